"""The Event: one small immutable record of something the developer did.

Like aw-core's Event, it is deliberately tiny: an id, a UTC timestamp, where it came from, what
kind of thing happened and a JSON object of details. Everything downstream (store, engine,
renderers, clients) speaks this one type, so it must stay stable and serialisable.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Mapping

SOURCES = ("file", "shell", "git", "editor", "companion", "tests")
_SCALARS = (str, int, float, bool, type(None))  # checked first: isinstance against typing.Mapping is slow


def _freeze(value: Any) -> Any:
    """Deep-copy JSON-like data into read-only containers so an Event cannot be mutated."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _plain_mapping(value: Any) -> Any:
    """json.dumps hook: frozen mappings are written as the objects they are."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def thaw(value: Any) -> Any:
    """Turn frozen event data back into plain dicts and lists (for JSON and for editing)."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (MappingProxyType, dict, Mapping)):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Event:
    """Something that happened in a workspace, already redacted when it leaves a watcher pipeline."""

    source: str
    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)
    workspace: str = ""
    ts: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown event source {self.source!r}; expected one of {SOURCES}")
        if not self.kind or "." not in self.kind:
            raise ValueError(f"event kind must look like 'source.what', got {self.kind!r}")
        object.__setattr__(self, "data", _freeze(self.data or {}))

    def with_data(self, data: Mapping[str, Any]) -> "Event":
        """A copy of this event with other data (same id and time), e.g. after redaction."""
        return replace(self, data=data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts,
            "source": self.source,
            "kind": self.kind,
            "data": thaw(self.data),
            "workspace": self.workspace,
        }

    def data_json(self) -> str:
        """The data as a JSON object, without copying it first (what the store writes)."""
        return json.dumps(self.data, ensure_ascii=False, default=_plain_mapping)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "Event":
        return cls(
            source=str(raw["source"]),
            kind=str(raw["kind"]),
            data=raw.get("data") or {},
            workspace=str(raw.get("workspace", "")),
            ts=float(raw.get("ts", time.time())),
            id=str(raw.get("id") or uuid.uuid4().hex),
        )
