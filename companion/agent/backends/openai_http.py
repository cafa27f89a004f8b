"""One OpenAI-compatible chat endpoint: llama.cpp's server, vLLM, LM Studio, Ollama's `/v1`, a team's
shared server, or OpenAI itself.

Shared by the `openai` agent backend and the `openai` gate, so both read the key, check the model,
ask for structured output and turn every way a server can go wrong into one clear sentence.

- The API key is read from the environment variable named by `api_key_env`, never from the config.
- Structured output: servers disagree on `response_format`. OpenAI, vLLM, LM Studio and Ollama take
  `{"type": "json_schema", ...}`; llama-cpp-python's server takes `{"type": "json_object", "schema":
  ...}` and refuses the other (a validation error, as HTTP 500). The first that the server accepts is
  remembered; a server that takes neither is asked without one (the agent's parser repairs JSON).
- `base_url` may be given with or without `/v1`: a 404 on the bare URL is retried once with `/v1`.
- A server that answers HTML, an error page, a stream, or JSON of the wrong shape is a
  `EndpointError` naming what came back; a hang after the headers ends at the read time-out.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any, Sequence
from urllib.parse import urlsplit

import httpx

CONNECT_TIMEOUT_S = 5.0
MODELS_TTL_S = 60.0  # how long a server's model list is trusted
PROBE_TIMEOUT_S = 10.0  # `companion doctor`'s 1-token chat request
FORMATS = ("json_schema", "json_object", "none")  # structured-output requests, most precise first


class EndpointError(RuntimeError):
    """The endpoint cannot answer as asked; `kind` is down | auth | model | reply | refused | timeout."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def is_local(base_url: str) -> bool:
    """Whether the server runs on this machine (else proposals and redacted events leave it)."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


class OpenAIEndpoint:
    def __init__(self, base_url: str, api_key_env: str = "", timeout_s: float = 60.0) -> None:
        if not base_url:
            raise EndpointError("the openai backend needs base_url, e.g. base_url = \"http://127.0.0.1:8080/v1\"",
                                "down")
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        headers = {"Accept": "application/json"}
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        if api_key_env and not key:
            raise EndpointError(f"api_key_env names {api_key_env}, but that environment variable is not set", "auth")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S))
        self._models: set[str] | None = None
        self._models_at = -MODELS_TTL_S
        self._format = 0  # index into FORMATS: the most precise the server accepted so far
        self._prefixed = False  # `/v1` was added after a 404 on the URL as given

    # -- requests ---------------------------------------------------------------------------
    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None,
                 timeout: float | None = None) -> httpx.Response:
        url = f"{self.base_url}{path}"
        options: dict[str, Any] = {"json": payload} if payload is not None else {}
        if timeout is not None:
            options["timeout"] = httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT_S, timeout))
        try:
            response = self._client.request(method, url, **options)
            if response.status_code == 404 and not self._prefixed and not self.base_url.endswith("/v1"):
                retry = self._client.request(method, f"{self.base_url}/v1{path}", **options)
                if retry.status_code != 404:
                    self.base_url, self._prefixed = f"{self.base_url}/v1", True
                    return retry
            return response
        except httpx.TimeoutException:
            raise EndpointError(f"{url} did not answer within {timeout or self.timeout_s:.0f} s", "timeout") from None
        except httpx.HTTPError as exc:
            raise EndpointError(f"cannot reach {self.base_url} ({exc.__class__.__name__}: {exc}); is the server "
                                "running?", "down") from None

    def _json(self, response: httpx.Response, what: str) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise EndpointError(f"{self.base_url} refused the API key ({status}); check the variable "
                                f"{self.api_key_env or '(api_key_env is not set)'}", "auth")
        body_type = response.headers.get("content-type", "")
        if status >= 400:
            raise EndpointError(f"{what} failed with HTTP {status}: {_snippet(response.text)}",
                                "model" if status == 404 else "refused")
        if "text/event-stream" in body_type:
            raise EndpointError(f"{self.base_url} answered {what} with a stream although none was asked for", "reply")
        try:
            return response.json()
        except ValueError:
            kind = "an HTML page" if "html" in body_type or response.text.lstrip().startswith("<") else "text"
            raise EndpointError(f"{self.base_url} answered {what} with {kind}, not JSON ({_snippet(response.text)}); "
                                "is base_url the API's address (usually ending in /v1)?", "reply") from None

    # -- models -----------------------------------------------------------------------------
    def models(self) -> set[str] | None:
        """The model ids the server lists (GET /models), or None when it has no such listing."""
        if time.monotonic() - self._models_at < MODELS_TTL_S:
            return self._models
        response = self._request("GET", "/models", timeout=min(self.timeout_s, 10.0))
        if response.status_code in (404, 405):
            self._models = None
        else:
            body = self._json(response, "the model list")
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise EndpointError(f"{self.base_url}/models is not an OpenAI model list: {_snippet(json.dumps(body))}",
                                    "reply")
            self._models = {str(item.get("id")) for item in data if isinstance(item, dict) and item.get("id")}
        self._models_at = time.monotonic()
        return self._models

    def check_model(self, model: str) -> None:
        listed = self.models()
        if listed is not None and model not in listed:
            served = ", ".join(sorted(listed)[:8]) or "no model"
            raise EndpointError(f"the server at {self.base_url} has no model {model!r} (it serves: {served}); "
                                "set model to one of those", "model")

    # -- chat -------------------------------------------------------------------------------
    def chat(self, model: str, messages: Sequence[dict[str, str]], max_tokens: int, temperature: float = 0.0,
             schema: dict[str, Any] | None = None, timeout: float | None = None) -> tuple[str, dict[str, Any]]:
        """The reply text and the usage figures of one chat completion (not streamed)."""
        payload: dict[str, Any] = {"model": model, "messages": list(messages), "max_tokens": max_tokens,
                                   "temperature": temperature, "stream": False}
        while True:
            form = FORMATS[self._format] if schema is not None else "none"
            request = dict(payload)
            if form == "json_schema":
                request["response_format"] = {"type": "json_schema",
                                              "json_schema": {"name": "reply", "schema": schema, "strict": False}}
            elif form == "json_object":
                request["response_format"] = {"type": "json_object", "schema": schema}
            response = self._request("POST", "/chat/completions", request, timeout)
            if form != "none" and response.status_code in (400, 415, 422, 500) and _about_format(response.text):
                self._format += 1  # the server does not take this kind of structured output: ask the next way
                continue
            body = self._json(response, "the chat request")
            return _reply_text(body, self.base_url), (body.get("usage") or {}) if isinstance(body, dict) else {}

    def probe(self, model: str, timeout: float | None = None) -> None:
        """One chat completion of one token: a server that lists its models but hangs, or answers
        HTML or an error page, on chat is found by `companion doctor`, not by the first step."""
        self.chat(model, [{"role": "user", "content": "Say OK."}], max_tokens=1, timeout=timeout or PROBE_TIMEOUT_S)

    def close(self) -> None:
        self._client.close()


def _about_format(text: str) -> bool:
    """Whether an error answer refuses the structured-output request itself: it names the
    `response_format` field (llama-cpp-python's validation error, OpenAI's and vLLM's invalid
    parameter), or says it does not take json_schema / json_object. Any other error, a transient
    one that merely mentions a schema included, is not taken as a refusal, so it cannot downgrade
    the form for good."""
    lowered = text.lower()
    if "response_format" in lowered:
        return True
    return bool(re.search(r"json_(schema|object)", lowered)) and bool(_REFUSAL.search(lowered))


_REFUSAL = re.compile(r"not supported|unsupported|not allowed|invalid|unknown|unrecognized|must be|expected|"
                      r"input should be")


def _reply_text(body: Any, base_url: str) -> str:
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise EndpointError(f"{base_url} answered without choices[0].message.content: "
                            f"{_snippet(json.dumps(body) if not isinstance(body, str) else body)}", "reply") from None
    if content is None:
        return ""
    if not isinstance(content, str):
        raise EndpointError(f"{base_url} answered a message content that is not text: {_snippet(json.dumps(content))}",
                            "reply")
    return content


def _snippet(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"
