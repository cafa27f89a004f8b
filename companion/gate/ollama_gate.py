"""A gate judged by any Ollama model with ProactiveBench's reward prompt (see judge_gate.py).

The model list (GET /api/tags) is asked at most once a minute, not before every judgement.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

from companion.config import ollama_host
from companion.gate.base import Gate, Observation
from companion.gate.judge_gate import ModelJudgeGate, reward_messages

TAGS_TTL_S = 60.0  # how long the list of pulled models is trusted


class OllamaGate(ModelJudgeGate):
    name = "ollama"

    def __init__(self, model: str, host: str = "", timeout_s: float = 20.0, keep_alive: str = "5m",
                 fallback: Gate | Callable[[], Gate] | None = None) -> None:
        if not model:
            raise ValueError("the ollama gate needs a model name: set [gate] model = \"NAME\" in the config")
        import ollama

        self.model = model
        self.host = ollama_host(host)
        self.timeout_s = timeout_s
        self.keep_alive = keep_alive
        self._client = ollama.Client(host=self.host, timeout=timeout_s)
        super().__init__(fallback)
        self._tags_checked_at = -TAGS_TTL_S
        self._model_present = False

    # -- talking to Ollama --------------------------------------------------------------
    def judge(self, observations: Sequence[Observation], task: str | None) -> bool | None:
        """The model's verdict, or None (with `last_problem` set) when there is none."""
        import httpx
        import ollama

        if not self._available():
            return None
        try:
            response = self._client.chat(model=self.model, messages=reward_messages(observations, task),
                                         options={"temperature": 0.0}, keep_alive=self.keep_alive)
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                self._model_present = False
                self._tags_checked_at = time.monotonic()
                return self._problem(f"the Ollama model {self.model!r} is not pulled; run `ollama pull {self.model}`")
            return self._problem(f"Ollama answered an error: {exc}")
        except (ConnectionError, httpx.ConnectError):
            self._tags_checked_at = time.monotonic()
            self._model_present = False
            return self._problem(f"no Ollama server at {self._where()}; is `ollama serve` running?")
        except httpx.TimeoutException:
            return self._problem(f"Ollama did not answer within {self.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return self._problem(f"Ollama request failed: {exc}")
        content = (response.get("message") or {}).get("content", "") if isinstance(response, dict) else response.message.content
        return self._verdict(content)

    def _available(self) -> bool:
        """Is the model pulled? Asked at most once a minute (GET /api/tags), not before every call."""
        import httpx
        import ollama

        now = time.monotonic()
        if now - self._tags_checked_at < TAGS_TTL_S:
            if not self._model_present and self.last_problem is None:
                self.last_problem = f"the Ollama model {self.model!r} is not available"
            return self._model_present
        self._tags_checked_at = now
        try:
            listing = self._client.list()
        except (ConnectionError, httpx.HTTPError, ollama.ResponseError) as exc:
            self._model_present = False
            self._problem(f"no Ollama server at {self._where()} ({type(exc).__name__}); is `ollama serve` running?")
            return False
        names = set()
        for entry in listing.get("models", []) if isinstance(listing, dict) else listing.models:
            name = entry.get("model") or entry.get("name") if isinstance(entry, dict) else entry.model
            if name:
                names.update({name, name.removesuffix(":latest")})
        self._model_present = self.model in names or f"{self.model}:latest" in names
        if not self._model_present:
            self._problem(f"the Ollama model {self.model!r} is not pulled; run `ollama pull {self.model}`")
        return self._model_present

    def _where(self) -> str:
        return str(self._client._client.base_url)
