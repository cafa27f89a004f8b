"""Real in-process models on a short prompt: SmolLM2 through transformers (always) and through
llama.cpp (when the optional llama-cpp-python package is installed)."""

from __future__ import annotations

import time

import pytest

from companion.agent.backends import JSON_PREFIX, BackendUnavailable, load_backend
from companion.agent.runner import Agent
from companion.config import Config

OBSERVATIONS = [{"time": "2026-03-02 10:14:20", "event": "The user ran `pytest` in `.`; it failed (exit 1) after "
                                                         "1.2 s: NameError: name 'nme' is not defined."}]


def untuned() -> Config:
    """The default settings on the bare model (no trained or shipped LoRA adapter)."""
    config = Config()
    config.agent.adapter = "none"
    return config


def run_short(backend_name: str) -> tuple[object, object]:
    config = untuned()
    config.agent.backend = backend_name
    config.agent.max_new_tokens = 24
    config.agent.few_shot = False
    config.agent.timeout_s = 600.0  # the shared CI machine can be slow; speed is measured in benchmarks/
    backend = load_backend(config)
    agent = Agent.from_config(backend, config)
    try:
        result = agent.step(OBSERVATIONS)
    finally:
        agent.close()
    return backend, result


@pytest.mark.slow
def test_transformers_smollm2_answers_a_short_prompt() -> None:
    backend, result = run_short("transformers")
    assert backend.name == "transformers" and backend.model_name == "smollm2-135m-instruct"
    assert 0 < result.stats["generated_tokens"] <= 24 and result.stats["prompt_tokens"] > 50
    assert result.reply.raw.startswith(JSON_PREFIX)  # the reply was prefilled into the JSON format
    assert result.reply.task is not None or result.reply.problem is not None or result.reply.purpose


@pytest.mark.slow
def test_transformers_stops_at_its_deadline() -> None:
    config = untuned()
    backend = load_backend(config, "transformers")
    messages = [{"role": "user", "content": "Count from one to one thousand in words."}]
    started = time.monotonic()
    from companion.agent.backends import GenerationTimeout

    with pytest.raises(GenerationTimeout):
        backend.generate(messages, max_new_tokens=2000, deadline=time.monotonic() + 1.0)
    assert time.monotonic() - started < 30


@pytest.mark.slow
@pytest.mark.usefixtures("needs_llama_cpp")
def test_llama_cpp_stops_at_its_deadline() -> None:
    from companion.agent.backends import GenerationTimeout

    backend = load_backend(untuned(), "llama_cpp")
    with pytest.raises(GenerationTimeout):
        backend.generate([{"role": "user", "content": "Count to one thousand in words."}], max_new_tokens=5000,
                         deadline=time.monotonic() + 0.5)
    backend.close()


@pytest.mark.slow
@pytest.mark.usefixtures("needs_llama_cpp")
def test_llama_cpp_answers_the_same_prompt_from_the_packaged_gguf() -> None:
    backend, result = run_short("llama_cpp")
    assert backend.name == "llama_cpp" and backend.model_name.endswith(".gguf")
    assert 0 < result.stats["generated_tokens"] <= 24
    assert result.reply.raw.startswith(JSON_PREFIX)


def test_llama_cpp_falls_back_to_transformers_when_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    import companion.agent.backends.llama_cpp as module

    monkeypatch.setattr(module, "available", lambda: False)
    created = []
    import companion.agent.backends.transformers as hf

    monkeypatch.setattr(hf, "create", lambda agent: created.append(agent) or type("B", (), {"name": "transformers"})())
    backend = load_backend(untuned(), "llama_cpp")
    assert backend.name == "transformers" and "llama-cpp-python is not installed" in backend.note
    with pytest.raises(BackendUnavailable):
        load_backend(Config(), "nonsense")


@pytest.mark.parametrize("text, settled", [
    ('{"purpose": "a", "thoughts": "b", "proactive_task": null,', True),  # no task: nothing after it is read
    ('{"purpose": "a", "proactive_task": null', False),  # "null" may still be the start of more
    ('{"thoughts": "quote \\"proactive_task\\": null, here"', False),  # a key inside a string is escaped
    ('{"proactive_task": "Fix it", "response": "x", "operation": "open", "path": "a.py", "line": 61,', True),
    ('{"proactive_task": "Fix it", "line": 6', False),  # the number may go on
    ('{"proactive_task": "Fix it", "response": "}"', False),
    ('{"proactive_task": "Fix it"}', True),
])
def test_a_reply_is_settled_once_it_says_no_task_or_writes_its_last_key(text: str, settled: bool) -> None:
    from companion.agent.backends import reply_settled
    from companion.agent.parse import parse_reply

    assert reply_settled(text) is settled
    if settled:
        reply = parse_reply(text)  # the object without its closing brace still parses
        assert reply.problem is None and (reply.task is None) == ('"proactive_task": null' in text)


@pytest.mark.slow
@pytest.mark.usefixtures("needs_llama_cpp")
def test_llama_cpp_stops_generating_once_the_reply_is_settled() -> None:
    """The shipped adapter's reply to a routine moment: generation ends at its last needed token,
    well before the step's token cap, and the reply parses."""
    from companion.agent.backends import reply_settled

    config = Config()
    config.agent.timeout_s = 600.0
    config.agent.max_new_tokens = 200
    backend = load_backend(config, "llama_cpp")
    agent = Agent.from_config(backend, config)
    try:
        result = agent.step([{"time": "2026-03-02 10:14:20", "event": "The user saved `notes.md` (12 lines, 1 changed)."}])
    finally:
        agent.close()
    assert result.reply.problem is None and reply_settled(result.reply.raw)
    assert result.stats["generated_tokens"] < 200
    assert not reply_settled(result.reply.raw[:-1])  # it stopped at the first settled token, not later


@pytest.mark.slow
@pytest.mark.usefixtures("needs_llama_cpp")
def test_llama_cpp_is_driven_from_one_thread_whoever_calls_it() -> None:
    """llama.cpp's OpenMP team belongs to the thread that calls it; a second calling thread made a
    second team and halved generation (68 → 30 tok/s with 2 threads). Every call runs on the
    backend's own thread."""
    import threading

    backend = load_backend(untuned(), "llama_cpp")
    try:
        idents: list[int] = []
        messages = [{"role": "user", "content": "Say hi."}]
        backend.generate(messages, max_new_tokens=2)
        idents.append(backend.on_model_thread(threading.get_ident))
        other = threading.Thread(target=lambda: idents.append(backend.on_model_thread(threading.get_ident)))
        other.start()
        other.join(60)
        assert len(idents) == 2 and idents[0] == idents[1] != threading.get_ident()
        assert backend.on_model_thread(lambda: backend.on_model_thread(threading.get_ident)) == idents[0]  # no deadlock

    finally:
        backend.close()


def test_the_step_uses_every_thread_only_while_the_cores_are_spare() -> None:
    """Two real busy processes hold the cores: OtherLoad sees them (not this process's own work),
    and the step falls back to one thread; idle, it keeps them all."""
    import subprocess
    import sys

    from companion.agent.backends.llama_cpp import OtherLoad, step_threads

    assert step_threads(2, 0.2, cpus=2) == 2  # idle: both cores
    assert step_threads(2, 1.2, cpus=2) == 1  # another process holds a core: spinning threads would collapse
    assert step_threads(4, 3.0, cpus=8) == 4 and step_threads(4, 6.0, cpus=8) == 1
    assert step_threads(2, None, cpus=2) == 2 and step_threads(1, 9.0, cpus=2) == 1
    load = OtherLoad()
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:  # this process's own work does not count
        pass
    own = load.cores()
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(1.0)
        load.cores()
        time.sleep(1.0)
        others = load.cores()
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert own is not None and others is not None
    assert own < others and others > 1.0  # the two loops kept well over a core busy
