"""The Ollama backend against a local stand-in server.

Ollama itself cannot be installed on the test machines, so this is a small HTTP server speaking
Ollama's documented /api/tags and /api/chat (non-streaming) on 127.0.0.1; the real `ollama`
client library talks to it exactly as it would to `ollama serve`.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Iterator

import pytest

from companion.agent.backends import BackendUnavailable, GenerationTimeout, load_backend
from companion.agent.backends.ollama import OllamaBackend
from companion.config import load_config
from tests.conftest import wait_for
from tests.ollama_standin import OllamaStandIn
from tests.engine.conftest import FAILING, KeywordGate, emit_command, reply


@pytest.fixture
def stand_in() -> Iterator[tuple[OllamaStandIn, str]]:
    with OllamaStandIn(models=("smollm2:135m",)) as server:
        server.reply = reply("Install the missing module no_such_module_here", "pip install no_such_module_here",
                             "run_command")
        yield server, server.url


MESSAGES = [{"role": "system", "content": "rules"}, {"role": "user", "content": "events"}]


def test_chat_sends_model_schema_keep_alive_and_limits(stand_in) -> None:
    state, host = stand_in
    backend = OllamaBackend(host=host, timeout_s=5, keep_alive="10m")
    assert json.loads(backend.generate(MESSAGES, max_new_tokens=99))["proactive_task"] == "Install the missing module no_such_module_here"
    sent = state.requests[-1]["body"]
    assert sent["model"] == "smollm2:135m" and sent["keep_alive"] == "10m" and sent["stream"] is False
    assert sent["options"]["num_predict"] == 99 and sent["format"]["required"][2] == "proactive_task"
    assert sent["messages"] == MESSAGES
    assert backend.last_stats["generated_tokens"] == 30


def test_host_from_OLLAMA_HOST_and_model_from_config(stand_in, monkeypatch: pytest.MonkeyPatch, workspace: Path) -> None:
    state, host = stand_in
    state.models = ["coder:7b"]
    monkeypatch.setenv("OLLAMA_HOST", host)
    (workspace / ".companion.toml").write_text('[agent]\nbackend = "ollama"\nmodel = "coder:7b"\n')
    backend = load_backend(load_config(workspace))
    assert backend.host == host and backend.model_name == "coder:7b"
    assert "Install" in backend.generate(MESSAGES, 50)


def test_a_missing_model_says_how_to_pull_it(stand_in) -> None:
    state, host = stand_in
    backend = OllamaBackend(model="llama9:70b", host=host, timeout_s=5)
    with pytest.raises(BackendUnavailable, match="ollama pull llama9:70b"):
        backend.generate(MESSAGES, 10)


def test_a_server_that_is_down_is_one_clear_message() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = OllamaBackend(host=f"http://127.0.0.1:{port}", timeout_s=2)
    with pytest.raises(BackendUnavailable, match="Ollama does not answer .*ollama serve"):
        backend.generate(MESSAGES, 10)


def test_a_server_that_hangs_times_out(stand_in) -> None:
    state, host = stand_in
    state.delay_s = 3.0
    backend = OllamaBackend(host=host, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(GenerationTimeout):
        backend.generate(MESSAGES, 10)
    assert time.monotonic() - started < 2.9


def test_the_engine_proposes_through_ollama(stand_in, repo: Path, daemon_factory) -> None:
    from companion.engine.engine import Engine

    state, host = stand_in
    config = load_config(repo)
    config.agent.backend, config.agent.ollama_host = "ollama", host
    config.quickfix.enabled = False  # the model's own proposal, not the missing-module rule's
    daemon = daemon_factory(repo, config=config, services=False)
    engine = Engine(daemon, gate=KeywordGate())
    engine.start()
    daemon.services.append(engine)
    emit_command(daemon, repo, FAILING)
    proposal = wait_for(lambda: daemon.store.proposals())[0]
    assert proposal.backend == "ollama" and proposal.operation == "run_command" and proposal.surfaced
