"""Any model the user serves with Ollama, through the official `ollama` client.

Host from `agent.ollama_host`, else OLLAMA_HOST, else http://127.0.0.1:11434 (`config.ollama_host`). Requests have a
time-out and a `keep_alive` so the model stays loaded between proposals. The reply is constrained
to the agent's JSON schema (Ollama's structured outputs). A server that is down or a model that is
not pulled raises BackendUnavailable with one clear message; the engine then backs off and the
daemon goes on without proposals.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

from companion.agent.backends import REPLY_SCHEMA, BackendUnavailable, GenerationTimeout, Message, time_left
from companion.config import ollama_host

DEFAULT_MODEL = "smollm2:135m"



def _model_names(listing: Any) -> set[str]:
    names: set[str] = set()
    for item in getattr(listing, "models", None) or []:
        name = getattr(item, "model", None) or getattr(item, "name", None) or ""
        if name:
            names.add(name)
            if name.endswith(":latest"):
                names.add(name[: -len(":latest")])
    return names


class OllamaBackend:
    name = "ollama"

    def __init__(self, model: str = "", host: str = "", timeout_s: float = 60.0, keep_alive: str = "5m",
                 temperature: float = 0.0) -> None:
        import ollama

        self.model_name = model or DEFAULT_MODEL
        self.host = ollama_host(host)
        self.timeout_s = timeout_s
        self.keep_alive = keep_alive
        self.temperature = temperature
        self._client = ollama.Client(host=self.host, timeout=timeout_s)
        self._checked = False
        self.last_stats: dict[str, float] = {}

    def check(self) -> None:
        """Raise BackendUnavailable unless the server answers and has the model (GET /api/tags)."""
        import httpx
        import ollama

        try:
            names = _model_names(self._client.list())
        except (ConnectionError, httpx.HTTPError, ollama.ResponseError) as exc:
            raise BackendUnavailable(f"Ollama does not answer at {self.host} ({exc}); start it with "
                                     "`ollama serve` or set agent.backend to transformers") from None
        if self.model_name not in names:
            raise BackendUnavailable(f"the Ollama model {self.model_name!r} is not available at {self.host}; "
                                     f"run `ollama pull {self.model_name}` or set agent.model")
        self._checked = True

    def generate(self, messages: Sequence[Message], max_new_tokens: int, deadline: float | None = None) -> str:
        import httpx
        import ollama

        if not self._checked:
            self.check()
        time_left(deadline, "Ollama")
        started = time.monotonic()
        try:
            reply = self._client.chat(model=self.model_name, messages=list(messages), format=REPLY_SCHEMA,
                                      keep_alive=self.keep_alive,
                                      options={"temperature": self.temperature, "num_predict": max_new_tokens})
        except httpx.TimeoutException:
            raise GenerationTimeout(f"Ollama did not answer within {self.timeout_s:.0f} s") from None
        except (ConnectionError, httpx.HTTPError) as exc:
            self._checked = False
            raise BackendUnavailable(f"lost the Ollama server at {self.host} ({exc})") from None
        except ollama.ResponseError as exc:
            self._checked = False
            if exc.status_code == 404:
                raise BackendUnavailable(f"the Ollama model {self.model_name!r} is missing; "
                                         f"run `ollama pull {self.model_name}`") from None
            raise BackendUnavailable(f"Ollama refused the request ({exc.status_code}): {exc.error}") from None
        self.last_stats = {"prompt_tokens": float(reply.prompt_eval_count or 0),
                           "generated_tokens": float(reply.eval_count or 0), "seconds": time.monotonic() - started}
        return reply.message.content or ""

    def close(self) -> None:
        try:
            self._client._client.close()
        except Exception:  # closing is best effort
            pass


def create(agent: Any) -> OllamaBackend:
    return OllamaBackend(agent.model, agent.ollama_host, agent.timeout_s, agent.keep_alive, agent.temperature)
