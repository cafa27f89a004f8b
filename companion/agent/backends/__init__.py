"""Agent backends: something that turns chat messages into the model's raw reply text.

`transformers` (SmolLM2 in-process, also the path that training fine-tunes), `llama_cpp` (the same
GGUF through llama.cpp, in-process and much faster on a CPU), `ollama` (any model the user serves
with Ollama), `openai` (any OpenAI-compatible server: llama.cpp's, vLLM, LM Studio, Ollama's /v1)
and `scripted` (replies from a list, for tests and demos). Every backend is blocking; the engine
calls it from its own worker thread with a deadline, so the daemon never waits on a model.
"""

from __future__ import annotations

import importlib
import os
import re
import time
from typing import Any, Protocol, Sequence

Message = dict[str, str]
# Starting the assistant's turn with this forces a small model into the reply format (a cheap
# form of constrained decoding); backends that can prefill return it as part of the text.
JSON_PREFIX = '{"purpose": "'
NAMES = ("transformers", "llama_cpp", "ollama", "openai", "scripted")
# The agent's reply as a JSON schema, for servers with structured output (Ollama, OpenAI-compatible).
REPLY_SCHEMA = {
    "type": "object",
    "properties": {
        "purpose": {"type": "string"},
        "thoughts": {"type": "string"},
        "proactive_task": {"type": ["string", "null"]},
        "response": {"type": "string"},
        "operation": {"type": ["string", "null"], "enum": ["explain", "run_command", "edit", "open", None]},
        "path": {"type": ["string", "null"]},
        "line": {"type": ["integer", "null"]},
    },
    "required": ["purpose", "thoughts", "proactive_task", "response", "operation"],
}


class BackendUnavailable(RuntimeError):
    """The model cannot be used now (server down, model missing, package absent); the message says what to do."""


class GenerationTimeout(TimeoutError):
    """The model did not answer before its deadline."""


class Backend(Protocol):
    name: str
    model_name: str

    def generate(self, messages: Sequence[Message], max_new_tokens: int, deadline: float | None = None) -> str:
        """The raw reply text (blocking). `deadline` is a time.monotonic() value."""
        ...

    def close(self) -> None: ...


def remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens `a` and `b` share (the part of a prompt a KV cache can keep)."""
    count = 0
    for x, y in zip(a, b):
        if x != y:
            break
        count += 1
    return count


def time_left(deadline: float | None, server: str) -> float | None:
    """Seconds left for a request to `server` (None: no deadline); GenerationTimeout when none are."""
    left = remaining(deadline)
    if left is not None and left <= 0:
        raise GenerationTimeout(f"no time left for the {server} request")
    return left


# A reply is settled before its object closes when it says "no task" (nothing after the task is
# read then) or when its last key has a complete value: the reply's keys come in the prompt's order
# (companion/agent/prompt.py REPLY_KEYS), and a small model that reaches "line" often goes on with
# the keys again instead of closing the object. Generating stops there; the parser reads the object
# without its closing brace. A key inside a string value is escaped (\"line\"), so it never matches.
_NO_TASK = re.compile(r'(?<!\\)"proactive_task"\s*:\s*null\s*[,}\n]')
_LAST_KEY = re.compile(r'(?<!\\)"line"\s*:\s*(?:null|-?\d+|"[^"\\]*")\s*[,}\n]')


def reply_settled(text: str) -> bool:
    """True once the reply says all it will say: its JSON object is complete, it has said
    `"proactive_task": null`, or its last key ("line") has a complete value. The engine's step
    time is mostly generated tokens, and these stops save a third to a half of them."""
    return json_object_closed(text) or bool(_NO_TASK.search(text)) or bool(_LAST_KEY.search(text))


def json_object_closed(text: str) -> bool:
    """True once `text` holds a complete top-level JSON object (so generation can stop early)."""
    depth, in_string, escape, seen = 0, False, False, False
    for char in text:
        if in_string:
            if escape:
                escape = False
            elif char == "\\":
                escape = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
            seen = True
        elif char == "}":
            depth -= 1
            if seen and depth == 0:
                return True
    return False


def chatml(messages: Sequence[Message], prefix: str = "") -> str:
    """SmolLM2's chat template (ChatML) as text, with the assistant turn opened and prefilled."""
    parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n" + prefix


def load_backend(config: Any, name: str | None = None) -> Backend:
    """The backend named by `config.agent.backend` (or `name`); `config` is a Config or its AgentConfig.

    The in-process llama_cpp backend is optional: without the llama-cpp-python package it falls
    back to transformers on the same model, and the backend's `note` says so.
    """
    agent = getattr(config, "agent", config)
    name = name or agent.backend
    if name not in NAMES:
        raise BackendUnavailable(f"unknown agent backend {name!r}; expected one of {', '.join(NAMES)}")
    if name == "llama_cpp":
        from companion.agent.backends.llama_cpp import available

        if agent.model and os.path.isdir(agent.model):  # a transformers folder (e.g. a fine-tuned agent)
            backend = importlib.import_module(f"{__name__}.transformers").create(agent)
            backend.note = f"{agent.model} is a transformers folder; the agent runs it on transformers"
            return backend
        if not available():
            backend = importlib.import_module(f"{__name__}.transformers").create(_without_model(agent))
            backend.note = "llama-cpp-python is not installed; the agent runs on transformers (slower)"
            return backend
    return importlib.import_module(f"{__name__}.{name}").create(agent)


def configured_adapter(agent: Any) -> Any:
    """The LoRA adapter folder `[agent] adapter` asks for on the default model (None: untuned);
    a bad setting is BackendUnavailable with the reason."""
    from companion.agent.adapters import for_agent

    try:
        return for_agent(getattr(agent, "adapter", ""))
    except ValueError as exc:
        raise BackendUnavailable(str(exc)) from None


def _without_model(agent: Any) -> Any:
    """The agent settings minus a GGUF path that transformers could not read as a folder."""
    import dataclasses

    if agent.model and str(agent.model).endswith(".gguf") and dataclasses.is_dataclass(agent):
        return dataclasses.replace(agent, model="")
    return agent
