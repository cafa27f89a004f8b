"""A local HTTP server speaking the part of Ollama's documented REST API that companion uses.

Ollama itself cannot be installed on the test machines, so the real `ollama` client (in the
Ollama agent backend and the Ollama gate) talks to this stand-in instead: GET /api/tags lists the pulled models, POST /api/chat answers with a
chat message (non-streaming, `"done": true`), and an unknown model gets Ollama's 404
`{"error": "model '...' not found"}`. `reply` sets the assistant's text; `delay_s` makes it hang.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OllamaStandIn:
    def __init__(self, models: tuple[str, ...] = ("judge:latest",)) -> None:
        self.models = list(models)
        self.reply = '{"thought": "I was stuck on this error.", "judgement": "accepted"}'
        self.delay_s = 0.0
        self.requests: list[dict[str, Any]] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                if self.path == "/api/tags":
                    self._send(200, {"models": [{"name": m, "model": m, "modified_at": "2026-01-01T00:00:00Z",
                                                 "size": 1, "digest": "0" * 12, "details": {}} for m in standin.models]})
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                standin.requests.append({"path": self.path, "body": body})
                if self.path != "/api/chat":
                    self._send(404, {"error": "not found"})
                    return
                model = body.get("model", "")
                if model not in standin.models and f"{model}:latest" not in standin.models:
                    self._send(404, {"error": f"model '{model}' not found"})
                    return
                if standin.delay_s:
                    time.sleep(standin.delay_s)
                self._send(200, {"model": model, "created_at": "2026-01-01T00:00:00Z",
                                 "message": {"role": "assistant", "content": standin.reply},
                                 "done": True, "done_reason": "stop", "prompt_eval_count": 120, "eval_count": 30})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "OllamaStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
