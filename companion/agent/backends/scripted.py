"""A backend that answers from a list: tests and demos drive the engine without a model.

Each reply is used in turn (the last one repeats). A reply may be a string (returned as the model's
raw text, so garbage can be scripted too), or {"sleep": seconds} to stand for a model that hangs.
`agent.script` in the config names a JSON file holding the list, for daemons started as processes.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from companion.agent.backends import BackendUnavailable, GenerationTimeout, Message, remaining


class ScriptedBackend:
    name = "scripted"

    def __init__(self, replies: Sequence[Any], model_name: str = "script") -> None:
        if not replies:
            raise ValueError("a scripted backend needs at least one reply")
        self.replies = list(replies)
        self.model_name = model_name
        self.calls: list[list[Message]] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def generate(self, messages: Sequence[Message], max_new_tokens: int, deadline: float | None = None) -> str:
        with self._lock:
            index = min(len(self.calls), len(self.replies) - 1)
            self.calls.append([dict(m) for m in messages])
            reply = self.replies[index]
        if isinstance(reply, dict) and "sleep" in reply:
            wait = float(reply["sleep"])
            left = remaining(deadline)
            if self._closed.wait(wait if left is None else min(wait, left)) or (left is not None and left < wait):
                raise GenerationTimeout(f"the scripted model slept past its deadline ({wait:.1f} s)")
            reply = reply.get("then", "")
        return reply if isinstance(reply, str) else json.dumps(reply)

    def close(self) -> None:
        self._closed.set()


def create(agent: Any) -> ScriptedBackend:
    path = Path(getattr(agent, "script", "") or "")
    if not str(path) or not path.is_file():
        raise BackendUnavailable("the scripted backend needs agent.script: a JSON file with a list of replies")
    try:
        replies = json.loads(path.read_text())
    except ValueError as exc:
        raise BackendUnavailable(f"{path}: not a JSON list of replies: {exc}") from None
    if not isinstance(replies, list) or not replies:
        raise BackendUnavailable(f"{path}: expected a non-empty JSON list of replies")
    return ScriptedBackend(replies, model_name=path.name)
