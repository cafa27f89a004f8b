"""The `openai` backend and gate against a real llama.cpp server (OpenAI-compatible API) on a
loopback port, and against a small local server that misbehaves on purpose (HTML, an error page,
the wrong JSON, a stream, a hang after the headers), as servers behind proxies do."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from companion.agent.backends import BackendUnavailable, GenerationTimeout, load_backend
from companion.agent.backends import openai_http
from companion.agent.backends.openai import OpenAIBackend
from companion.agent.backends.openai_http import EndpointError, OpenAIEndpoint, is_local
from companion.agent.checks import agent_backend
from companion.agent.parse import parse_reply
from companion.agent.prompt import build_messages
from companion.config import Config
from companion.gate import openai_gate
from companion.gate.checks import gate_server
from companion.gate.factory import GateUnavailable, load_gate
from companion.gate.openai_gate import OpenAIGate
from tests.conftest import run_cli
from tests.llama_server import MODEL_ALIAS, free_port, start_server

pytestmark = pytest.mark.slow
OBSERVATIONS = [{"time": "2026-12-04 10:00:00", "event": "The user ran `python -m pytest -x` in the workspace root; "
                 "it failed (exit 1) after 2.1 s: tests/test_calc.py::test_add — assert 1 == 2."}]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    yield from start_server()


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[str]:
    yield from start_server(api_key="the-right-key")


def _config(base_url: str, model: str = MODEL_ALIAS, key_env: str = "") -> Config:
    config = Config()
    config.agent.backend = "openai"
    config.agent.base_url = base_url
    config.agent.model = model
    config.agent.api_key_env = key_env
    config.agent.timeout_s = 240.0  # a first prompt on a busy 2-core machine; later ones reuse its prefix
    return config


def test_the_agent_step_runs_on_a_real_llama_cpp_server(server: str) -> None:
    backend = load_backend(_config(server))
    assert isinstance(backend, OpenAIBackend)
    text = backend.generate(build_messages(OBSERVATIONS, []), max_new_tokens=120)
    reply = parse_reply(text)
    assert reply.problem is None or "json" not in reply.problem.lower(), text
    json.loads(text)  # the server's grammar from the reply schema gives well-formed JSON
    assert backend.endpoint._format == 1  # llama.cpp's server refuses json_schema (422), takes json_object + schema
    assert backend.last_stats["prompt_tokens"] > 100 and backend.last_stats["generated_tokens"] > 0
    backend.close()


def test_doctor_names_the_endpoint_and_says_why_it_is_unusable(tmp_path: Path, server: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_AGENT_BACKEND", "openai")
    monkeypatch.setenv("COMPANION_AGENT_MODEL", MODEL_ALIAS)
    monkeypatch.setenv("COMPANION_AGENT_BASE_URL", server)
    checks = json.loads(run_cli("doctor", str(tmp_path), "--json").stdout)["checks"]
    agent = next(c for c in checks if c["name"] == "agent")
    assert agent["ok"] and f"model {MODEL_ALIAS} at {server}" in agent["detail"]
    monkeypatch.setenv("COMPANION_AGENT_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    result = run_cli("doctor", str(tmp_path), "--json")
    agent = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "agent")
    assert not agent["ok"] and "cannot reach" in agent["detail"] and result.returncode == 1


def test_a_base_url_without_v1_still_reaches_the_api(server: str) -> None:
    backend = load_backend(_config(server.removesuffix("/v1")))
    backend.check()
    assert backend.base_url.endswith("/v1")


def test_a_model_the_server_does_not_have_is_one_clear_message(server: str) -> None:
    backend = load_backend(_config(server, model="llama3.1:70b"))
    with pytest.raises(BackendUnavailable, match=r"has no model 'llama3.1:70b' \(it serves: smollm2\)"):
        backend.generate(build_messages(OBSERVATIONS, []), max_new_tokens=8)


def test_the_api_key_comes_from_the_named_variable(keyed_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_TEST_KEY", "a-wrong-key")
    with pytest.raises(BackendUnavailable, match="refused the API key.*COMPANION_TEST_KEY"):
        load_backend(_config(keyed_server, key_env="COMPANION_TEST_KEY")).check()
    monkeypatch.setenv("COMPANION_TEST_KEY", "the-right-key")
    load_backend(_config(keyed_server, key_env="COMPANION_TEST_KEY")).check()
    monkeypatch.delenv("COMPANION_TEST_KEY")
    with pytest.raises(BackendUnavailable, match="COMPANION_TEST_KEY, but that environment variable is not set"):
        load_backend(_config(keyed_server, key_env="COMPANION_TEST_KEY"))


def test_the_openai_gate_judges_on_the_server_and_falls_back_without_it(server: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    fallbacks: list[int] = []

    class Constant:
        def score(self, observations: Any, task: Any) -> float:
            fallbacks.append(1)
            return 0.25

    # a short reply for a fast test: the schema bounds the thought, so the judgement still fits
    monkeypatch.setattr(openai_gate, "JUDGEMENT_TOKENS", 64)
    monkeypatch.setitem(openai_gate.JUDGEMENT_SCHEMA["properties"]["thought"], "maxLength", 160)
    gate = OpenAIGate(MODEL_ALIAS, server, timeout_s=240.0, fallback=Constant())
    score = gate.score(OBSERVATIONS, "Open tests/test_calc.py at the failing assertion")
    assert score in (0.0, 1.0) and gate.last_problem is None and not fallbacks  # the server's own verdict
    assert gate.endpoint._format == 1  # the {thought, judgement} schema went as llama.cpp's json_object grammar
    down = OpenAIGate(MODEL_ALIAS, f"http://127.0.0.1:{free_port()}/v1", fallback=Constant())
    assert down.score(OBSERVATIONS, "Open tests/test_calc.py") == 0.25
    assert "cannot reach" in (down.last_problem or "") and fallbacks == [1]


def test_the_openai_gate_takes_the_agents_server_and_key_variable_unless_it_has_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_TEST_KEY", "agent-key")
    config = _config("http://127.0.0.1:9/v1", key_env="COMPANION_TEST_KEY")
    config.gate.kind, config.gate.model = "openai", "judge"
    gate = load_gate(config)
    assert isinstance(gate, OpenAIGate) and gate.model == "judge"
    assert gate.endpoint.base_url == "http://127.0.0.1:9/v1" and gate.endpoint.api_key_env == "COMPANION_TEST_KEY"
    assert gate.endpoint._client.headers["Authorization"] == "Bearer agent-key"
    monkeypatch.setenv("COMPANION_GATE_KEY", "gate-key")
    config.gate.base_url, config.gate.api_key_env = "http://127.0.0.1:8/v1", "COMPANION_GATE_KEY"
    own = load_gate(config)
    assert own.endpoint.base_url == "http://127.0.0.1:8/v1" and own.endpoint._client.headers["Authorization"] == "Bearer gate-key"
    config.gate.model = ""
    with pytest.raises(GateUnavailable, match="needs gate.model"):
        load_gate(config)


def test_a_server_off_this_machine_is_named_in_a_warning() -> None:
    assert is_local("http://127.0.0.1:8080/v1") and is_local("http://localhost:11434/v1")
    assert not is_local("https://models.example.com/v1") and not is_local("http://10.1.2.3:8000/v1")


# -- servers that misbehave ---------------------------------------------------------------------
class BadServer:
    """Answers every chat request the way `mode` says: html | error | wrong_json | stream | hang |
    transient (a 500 that mentions a schema) | no_json_schema (refuses response_format json_schema,
    as llama.cpp's server does) | ok; lists one model, "m". `posts` keeps the chat requests."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.posts: list[dict[str, Any]] = []
        bad = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, kind: str, body: bytes, hang: bool = False) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.flush()
                if hang:
                    time.sleep(5)
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                self._reply(200, "application/json", json.dumps({"object": "list", "data": [{"id": "m"}]}).encode())

            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                bad.posts.append(payload)
                mode = bad.mode
                asked = (payload.get("response_format") or {}).get("type")
                if mode == "transient":
                    self._reply(500, "application/json",
                                b'{"error": {"message": "the schema cache is being rebuilt; try again"}}')
                elif mode == "no_json_schema" and asked == "json_schema":
                    self._reply(500, "application/json", json.dumps({"error": {"message": (
                        "1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
                        "'msg': \"Input should be 'text' or 'json_object'\"}")}}).encode())
                elif mode == "html":
                    self._reply(200, "text/html", b"<html><body>Welcome to nginx!</body></html>")
                elif mode == "error":
                    self._reply(502, "text/html", b"<html><h1>502 Bad Gateway</h1></html>")
                elif mode == "wrong_json":
                    self._reply(200, "application/json", b'{"result": "no choices here"}')
                elif mode == "stream":
                    self._reply(200, "text/event-stream", b'data: {"choices": []}\n\n')
                elif mode == "hang":
                    self._reply(200, "application/json", b'{"choices": []}', hang=True)
                else:
                    self._reply(200, "application/json", json.dumps({"choices": [{"message": {"content": "{}"}}]}).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def bad() -> Iterator[BadServer]:
    server = BadServer()
    yield server
    server.httpd.shutdown()


@pytest.mark.parametrize("mode, message", [
    ("html", "with an HTML page, not JSON"),
    ("error", "failed with HTTP 502"),
    ("wrong_json", r"without choices\[0\]\.message\.content"),
    ("stream", "with a stream although none was asked for"),
])
def test_a_server_that_answers_garbage_gets_a_clear_error(bad: BadServer, mode: str, message: str) -> None:
    bad.mode = mode
    backend = OpenAIBackend(bad.url, "m", timeout_s=10.0)
    with pytest.raises(BackendUnavailable, match=message):
        backend.generate(build_messages(OBSERVATIONS, []), max_new_tokens=8)


def test_a_server_that_hangs_after_the_headers_times_out(bad: BadServer) -> None:
    bad.mode = "hang"
    backend = OpenAIBackend(bad.url, "m", timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(GenerationTimeout):
        backend.generate(build_messages(OBSERVATIONS, []), max_new_tokens=8)
    assert time.monotonic() - started < 4.0


def test_settings_that_cannot_work_say_what_to_set() -> None:
    with pytest.raises(BackendUnavailable, match="needs agent.model"):
        OpenAIBackend("http://127.0.0.1:1/v1", "")
    with pytest.raises(BackendUnavailable, match="needs base_url"):
        OpenAIBackend("", "m")
    with pytest.raises(EndpointError, match="cannot reach"):
        OpenAIEndpoint(f"http://127.0.0.1:{free_port()}/v1").models()


def test_only_a_refusal_of_response_format_changes_the_structured_output_form(bad: BadServer) -> None:
    """A transient error that merely mentions a schema must not downgrade the form for good."""
    backend = OpenAIBackend(bad.url, "m", timeout_s=10.0)
    bad.mode = "transient"
    with pytest.raises(BackendUnavailable, match="failed with HTTP 500"):
        backend.generate(build_messages(OBSERVATIONS, []), max_new_tokens=8)
    assert backend.endpoint._format == 0 and len(bad.posts) == 1  # still json_schema, not retried another way
    bad.mode = "no_json_schema"
    backend.generate(build_messages(OBSERVATIONS, []), max_new_tokens=8)
    assert backend.endpoint._format == 1 and bad.posts[-1]["response_format"]["type"] == "json_object"
    assert not openai_http._about_format('{"error": "invalid JSON schema cache entry, retry"}')
    assert openai_http._about_format("response_format.type 'json_object' is not supported; use json_schema")
    assert openai_http._about_format("json_schema is not supported by this model")


# -- companion doctor ---------------------------------------------------------------------------
def _doctor_env(monkeypatch: pytest.MonkeyPatch, base_url: str, model: str = "m", gate: bool = True) -> None:
    monkeypatch.setenv("COMPANION_AGENT_BACKEND", "openai")
    monkeypatch.setenv("COMPANION_AGENT_MODEL", model)
    monkeypatch.setenv("COMPANION_AGENT_BASE_URL", base_url)
    if gate:  # the gate on the agent's server (its base_url and key variable are the agent's)
        monkeypatch.setenv("COMPANION_GATE_KIND", "openai")
        monkeypatch.setenv("COMPANION_GATE_MODEL", model)


@pytest.mark.parametrize("mode, message", [("html", "with an HTML page, not JSON"),
                                           ("hang", "did not answer within 1 s")])
def test_doctor_asks_for_one_token_where_the_server_only_lists_its_models(
        bad: BadServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, message: str) -> None:
    monkeypatch.setattr(openai_http, "PROBE_TIMEOUT_S", 1.0)
    bad.mode = mode
    _doctor_env(monkeypatch, bad.url)
    agent = agent_backend(tmp_path)
    assert not agent.ok and agent.required and "lists m, but a 1-token chat request failed" in agent.detail
    assert message in agent.detail
    assert bad.posts[-1]["max_tokens"] == 1 and "response_format" not in bad.posts[-1]
    gate = gate_server(tmp_path)  # the gate falls back to the reward gate: a warning, not a failure
    assert not gate.ok and not gate.required and message in gate.detail
    assert gate.detail.endswith("the reward gate judges instead")
    bad.mode = "ok"
    assert agent_backend(tmp_path).ok and gate_server(tmp_path).ok


def test_doctor_warns_when_the_server_is_not_on_this_machine(bad: BadServer, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A server elsewhere, reached through the stand-in as an HTTP proxy (httpx honours
    HTTP_PROXY), so the check sees an address off this machine that answers."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", bad.url.removesuffix("/v1"))
    remote = "http://models.example.invalid/v1"
    _doctor_env(monkeypatch, remote)
    agent = agent_backend(tmp_path)
    assert not agent.ok and not agent.required and f"model m at {remote} — not on this machine" in agent.detail
    assert "proposals and your redacted events, evidence and focused file lines leave this machine" in agent.detail
    gate = gate_server(tmp_path)
    assert not gate.ok and not gate.required and f"model m at {remote}" in gate.detail
    assert gate.detail.endswith("not on this machine: proposals and your redacted events leave this machine")
    assert bad.posts and all(post["max_tokens"] == 1 for post in bad.posts)  # both probed the server
