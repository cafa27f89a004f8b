"""The shared prompt prefix is read once: the agent's prompts keep the system rules and few-shot
turns first (whatever the step's evidence, candidates, feedback or focused file), and both
in-process backends reuse the KV cache of the common token prefix with the step before, giving
the same reply as a run without the cache."""

from __future__ import annotations

import time

import pytest

from companion.agent.backends import JSON_PREFIX, chatml, common_prefix_length
from companion.agent.prompt import FocusedFile, build_messages

FAILED = {"time": "2026-03-02 10:14:20", "event": "The user ran `pytest -x` in `.`; it failed (exit 1) after 1.2 s: "
                                                  "NameError: name 'usr' is not defined."}
SAVED = {"time": "2026-03-02 10:15:02", "event": "The user saved `api/client.py` (88 lines, 1 changed)."}
EVIDENCE = {"failures": [{"test": "tests/test_client.py::test_get", "message": "NameError: name 'usr' is not defined",
                          "path": "api/client.py", "line": 12}],
            "output": {"tail": "E   NameError: name 'usr' is not defined\n1 failed in 0.12s"}}
CANDIDATES = [{"task": "Fix the name `usr` in api/client.py", "operation": "open", "path": "api/client.py", "line": 12}]


def stable_head() -> str:
    """The part of every agent prompt that does not depend on the step: system rules and few-shot turns."""
    return chatml(build_messages([FAILED])[:-1])[: -len("<|im_start|>assistant\n")]


def test_every_step_starts_with_the_same_rules_and_few_shot_turns() -> None:
    head = stable_head()
    steps = [build_messages([FAILED]),
             build_messages([FAILED, SAVED], evidence=EVIDENCE, candidates=CANDIDATES),
             build_messages([SAVED], feedback=[{"task": "Install sqlalchemy", "outcome": "rejected"}],
                            focus=FocusedFile("api/client.py", 10, ["def get(user):", "    return usr"]))]
    for messages in steps:
        prompt = chatml(messages, JSON_PREFIX)
        assert prompt.startswith(head)
        assert "Evidence of the latest event" not in head and "Candidate help" not in head
    # the step's own part (observations, evidence, candidates) comes after the head, never inside it
    with_evidence = chatml(steps[1], JSON_PREFIX)
    assert with_evidence.index("Evidence of the latest event") > len(head)
    assert with_evidence.index("Candidate help") > len(head)
    assert len(head) > len(with_evidence) // 2  # most of the prompt is the reusable part


@pytest.fixture(scope="module")
def transformers_backend():  # noqa: ANN201 - the real model
    from companion.agent.backends.transformers import TransformersBackend

    backend = TransformersBackend(threads=1)
    yield backend
    backend.close()


@pytest.mark.slow
def test_transformers_reuses_the_prefix_and_replies_as_without_it(transformers_backend) -> None:  # noqa: ANN001
    backend = transformers_backend
    head_tokens = len(backend.tokenizer(stable_head(), add_special_tokens=False)["input_ids"])
    first, second = build_messages([FAILED]), build_messages([FAILED, SAVED], evidence=EVIDENCE, candidates=CANDIDATES)

    backend.prefix_cache = True
    backend.generate(first, max_new_tokens=12)
    assert backend.last_stats["cached_tokens"] == 0  # nothing before the first step
    cached_reply = backend.generate(second, max_new_tokens=12)
    cached = backend.last_stats["cached_tokens"]
    assert head_tokens - 2 <= cached < backend.last_stats["prompt_tokens"]

    backend.prefix_cache = False
    assert backend.generate(second, max_new_tokens=12) == cached_reply  # greedy: the same reply without the cache
    assert backend.last_stats["cached_tokens"] == 0
    backend.prefix_cache = True


@pytest.mark.slow
def test_the_prefix_cache_crops_to_the_common_prefix_and_drops_a_short_one(transformers_backend) -> None:  # noqa: ANN001
    import torch

    from companion.agent.backends.transformers import MIN_REUSED_TOKENS, PrefixCache

    backend = transformers_backend
    ids = backend.tokenizer("The quick brown fox jumps over the lazy dog. " * 6, return_tensors="pt")["input_ids"]
    prefix = PrefixCache()
    cache, reused = prefix.reuse(ids[0].tolist())
    assert reused == 0
    with torch.inference_mode():
        backend.model(input_ids=ids, cache=cache, use_cache=True)
    prefix.keep(cache, ids[0].tolist())
    assert prefix.ids == ids[0].tolist()

    changed = ids[0].tolist()
    changed[30] = changed[30] + 1  # differs from token 30 on
    cache, reused = prefix.reuse(changed)
    assert reused == 30 and cache.get_seq_length() == 30
    prefix.keep(cache, changed)

    cache, reused = prefix.reuse(changed[:MIN_REUSED_TOKENS - 5] + [0] * 20)
    assert reused == 0 and cache.get_seq_length() == 0 and prefix.cache is None
    assert common_prefix_length([1, 2, 3], [1, 2, 4]) == 2 and common_prefix_length([], [1]) == 0


@pytest.mark.slow
@pytest.mark.usefixtures("needs_llama_cpp")
def test_llama_cpp_reads_only_the_new_part_of_a_step() -> None:
    from companion.agent.backends.llama_cpp import LlamaCppBackend

    backend = LlamaCppBackend(threads=1)
    try:
        head_tokens = len(backend.llm.tokenize(stable_head().encode(), add_bos=False, special=True))
        second = build_messages([FAILED, SAVED], evidence=EVIDENCE, candidates=CANDIDATES)
        backend.generate(build_messages([FAILED]), max_new_tokens=12)
        warm_reply = backend.generate(second, max_new_tokens=12)
        assert head_tokens - 2 <= backend.last_stats["cached_tokens"] < backend.last_stats["prompt_tokens"]
        backend.llm.reset()  # forget the cache: the same prompt read from scratch
        assert backend.generate(second, max_new_tokens=12) == warm_reply
        assert backend.last_stats["cached_tokens"] == 0
    finally:
        backend.close()


@pytest.mark.usefixtures("needs_llama_cpp")
def test_closing_llama_cpp_during_a_generation_waits_for_it_instead_of_freeing_under_it() -> None:
    """A daemon stopped while the model thinks: freeing the context mid-decode used to kill the
    process (a segfault in llama_decode, seen in CI). The generation ends at its next token."""
    import threading

    from companion.agent.backends import BackendUnavailable, GenerationTimeout
    from companion.agent.backends.llama_cpp import LlamaCppBackend

    backend = LlamaCppBackend(threads=1)
    outcome: list[object] = []

    def think() -> None:
        try:
            outcome.append(backend.generate(build_messages([FAILED, SAVED], evidence=EVIDENCE), max_new_tokens=400))
        except (GenerationTimeout, BackendUnavailable) as exc:
            outcome.append(exc)

    thread = threading.Thread(target=think)
    thread.start()
    deadline = time.monotonic() + 60
    while not backend._lock.locked() and time.monotonic() < deadline:
        time.sleep(0.01)
    backend.close()  # while the generation holds the model
    thread.join(60)
    assert not thread.is_alive() and backend.llm is None and len(outcome) == 1
    with pytest.raises(BackendUnavailable):
        backend.generate(build_messages([FAILED]), max_new_tokens=4)
