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
