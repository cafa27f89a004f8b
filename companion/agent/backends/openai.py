"""Any model behind an OpenAI-compatible chat API: llama.cpp's server, vLLM, LM Studio, Ollama's
`/v1`, or a model server a team shares (docs/agent.md, "One model server for a team").

Settings: `[agent] backend = "openai"`, `base_url`, `model`, and `api_key_env` (the name of the
environment variable that holds the key; the key itself is never in the config). The reply is
asked for as the agent's JSON schema where the server supports structured output. Time-outs and
the engine's back-off are the Ollama backend's: a server that is down, a wrong key or a model the
server does not have raise BackendUnavailable with one clear message, and the daemon goes on
without proposals.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

from companion.agent.backends import REPLY_SCHEMA, BackendUnavailable, GenerationTimeout, Message, time_left
from companion.agent.backends.openai_http import EndpointError, OpenAIEndpoint


class OpenAIBackend:
    name = "openai"

    def __init__(self, base_url: str, model: str, api_key_env: str = "", timeout_s: float = 60.0,
                 temperature: float = 0.0) -> None:
        if not model:
            raise BackendUnavailable("agent.backend = \"openai\" needs agent.model, the model name the server serves")
        try:
            self.endpoint = OpenAIEndpoint(base_url, api_key_env, timeout_s)
        except EndpointError as exc:
            raise BackendUnavailable(str(exc)) from None
        self.model_name = model
        self.timeout_s = timeout_s
        self.temperature = temperature
        self._checked = False
        self.last_stats: dict[str, float] = {}

    @property
    def base_url(self) -> str:
        return self.endpoint.base_url

    def check(self) -> None:
        """Raise BackendUnavailable unless the server answers and serves the model."""
        try:
            self.endpoint.check_model(self.model_name)
        except EndpointError as exc:
            raise BackendUnavailable(str(exc)) from None
        self._checked = True

    def generate(self, messages: Sequence[Message], max_new_tokens: int, deadline: float | None = None) -> str:
        if not self._checked:
            self.check()
        left = time_left(deadline, "model server's")
        started = time.monotonic()
        try:
            text, usage = self.endpoint.chat(self.model_name, messages, max_new_tokens, self.temperature,
                                             schema=REPLY_SCHEMA, timeout=min(left, self.timeout_s) if left else None)
        except EndpointError as exc:
            if exc.kind == "timeout":
                raise GenerationTimeout(str(exc)) from None
            self._checked = False
            raise BackendUnavailable(str(exc)) from None
        self.last_stats = {"prompt_tokens": float(usage.get("prompt_tokens") or 0),
                           "generated_tokens": float(usage.get("completion_tokens") or 0),
                           "seconds": time.monotonic() - started}
        return text

    def close(self) -> None:
        self.endpoint.close()


def create(agent: Any) -> OpenAIBackend:
    return OpenAIBackend(agent.base_url, agent.model, agent.api_key_env, agent.timeout_s, agent.temperature)
