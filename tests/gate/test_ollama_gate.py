"""The Ollama gate with the real `ollama` client against a local HTTP stand-in.

Ollama cannot be installed on these machines, so `ollama_standin.OllamaStandIn` serves Ollama's
documented /api/tags and /api/chat on 127.0.0.1 (an ephemeral port, closed after each test).
Covered: a good reply, replies that need repair, a garbage reply, the server down, the model not
pulled, and a hanging server (time-out). Every failure falls back to the real reward gate.
"""

from __future__ import annotations

import socket

import pytest

from companion.gate.judge_gate import parse_judgement, reward_messages
from companion.gate.ollama_gate import OllamaGate
from companion.gate.reward import RewardGate
from tests.ollama_standin import OllamaStandIn

OBS = [{"time": "2026-11-22 10:00:00", "event": "The user ran `pytest -x`; it failed (exit 1): ImportError: cannot import name 'Client'."}]
TASK = "Explain the ImportError and how to fix the import of Client"


@pytest.fixture(scope="module")
def reward_gate() -> RewardGate:
    return RewardGate()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("reply, verdict", [
    ('{"thought": "yes", "judgement": "accepted"}', True),
    ('{"thought": "no", "judgement": "rejected"}', False),
    ('```json\n{"thought": "fine", "judgement": "accepted"}\n```', True),
    ('Sure! {"thought": "not now", "judgement": "rejected",', False),  # truncated JSON, repaired
    ("{'thought': 'ok', 'judgement': 'Accepted'}", True),  # single quotes
    ("I think I would reject this. Final: rejected", False),
    ("", None),
    ("the weather is nice", None),
])
def test_parse_judgement(reply: str, verdict: bool | None) -> None:
    assert parse_judgement(reply) is verdict


def test_prompt_is_proactivebench_reward_prompt() -> None:
    messages = reward_messages(OBS, None)
    assert messages[0]["role"] == "system" and "Evaluate the task proposed by the proactive assistant" in messages[0]["content"]
    assert '"Proposed Task": null' in messages[1]["content"]
    assert "Observations (Time Ascending)" in messages[1]["content"]


def test_good_reply_is_the_verdict(reward_gate: RewardGate) -> None:
    with OllamaStandIn() as server:
        gate = OllamaGate("judge", host=server.url, timeout_s=5, fallback=reward_gate)
        assert gate.score(OBS, TASK) == 1.0
        server.reply = '{"thought": "I can fix it myself.", "judgement": "rejected"}'
        assert gate.score(OBS, TASK) == 0.0
        assert gate.fallbacks == 0 and gate.last_problem is None
        chat = [r for r in server.requests if r["path"] == "/api/chat"][-1]["body"]
        assert chat["model"] == "judge" and chat["options"]["temperature"] == 0.0
        assert TASK in chat["messages"][1]["content"]


def test_garbage_reply_falls_back(reward_gate: RewardGate) -> None:
    with OllamaStandIn() as server:
        server.reply = "lorem ipsum dolor sit amet"
        gate = OllamaGate("judge", host=server.url, timeout_s=5, fallback=reward_gate)
        assert gate.score(OBS, TASK) == pytest.approx(reward_gate.score(OBS, TASK))
        assert gate.fallbacks == 1 and "could not read a judgement" in gate.last_problem


def test_server_down_falls_back(reward_gate: RewardGate) -> None:
    gate = OllamaGate("judge", host=f"http://127.0.0.1:{free_port()}", timeout_s=2, fallback=reward_gate)
    assert gate.score(OBS, None) == pytest.approx(reward_gate.score(OBS, None))
    assert "no Ollama server" in gate.last_problem


def test_missing_model_falls_back_and_says_to_pull(reward_gate: RewardGate) -> None:
    with OllamaStandIn(models=("other:latest",)) as server:
        gate = OllamaGate("judge", host=server.url, timeout_s=5, fallback=reward_gate)
        assert gate.score(OBS, TASK) == pytest.approx(reward_gate.score(OBS, TASK))
        assert "ollama pull judge" in gate.last_problem
        assert not [r for r in server.requests if r["path"] == "/api/chat"]  # /api/tags said it is missing


def test_model_removed_after_listing_gets_404(reward_gate: RewardGate) -> None:
    with OllamaStandIn() as server:
        gate = OllamaGate("judge", host=server.url, timeout_s=5, fallback=reward_gate)
        assert gate.score(OBS, TASK) == 1.0
        server.models = []
        assert gate.score(OBS, TASK) == pytest.approx(reward_gate.score(OBS, TASK))
        assert "not pulled" in gate.last_problem


def test_hanging_server_times_out(reward_gate: RewardGate) -> None:
    with OllamaStandIn() as server:
        server.delay_s = 3.0
        gate = OllamaGate("judge", host=server.url, timeout_s=0.5, fallback=reward_gate)
        assert gate.score(OBS, TASK) == pytest.approx(reward_gate.score(OBS, TASK))
        assert "did not answer within 0.5 s" in gate.last_problem
