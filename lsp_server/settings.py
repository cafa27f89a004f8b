"""The editor's settings for companion, from `initializationOptions` and
`workspace/didChangeConfiguration`.

Editors send settings in different shapes: VS Code wraps them in a `companion` section and
uses camelCase; Neovim users write whatever their Lua table holds, often snake_case. One
tolerant reader turns all of them into a checked `EditorSettings`; a bad value is reported and
the previous value kept, so a typo in an editor's settings never stops the server.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from companion.config import AGENT_BACKENDS, Config

SHOW_MESSAGE = ("off", "unfocused", "always")
SEVERITIES = ("information", "hint")
BACKENDS = ("", *AGENT_BACKENDS)  # "" keeps the daemon's own setting


@dataclass
class EditorSettings:
    interruption_level: int | None = None  # None: companion's own general.interruption_level
    show_message: str = "unfocused"  # off | unfocused | always: when to pop up Accept/Reject/Snooze
    diagnostic_severity: str = "information"  # information | hint
    diagnostics: bool = True  # show file proposals as diagnostics
    backend: str = ""  # the agent backend the daemon should use; "" keeps the daemon's
    model: str = ""
    start_daemon: bool = True  # start the workspace's daemon when none runs
    edit_flush_s: float = 2.0  # edits to one file are reported at most this often
    via: str = ""  # who answered, for the outcome record; "" derives it from the client's name
    errors: list[str] = field(default_factory=list)  # problems met while reading the last update

    @classmethod
    def from_config(cls, config: Config) -> "EditorSettings":
        return cls(show_message=config.editor.show_message)

    def daemon_updates(self) -> dict[str, dict[str, Any]]:
        """The settings that belong to the daemon (sent with the `configure` operation)."""
        updates: dict[str, dict[str, Any]] = {}
        if self.interruption_level is not None:
            updates["general"] = {"interruption_level": self.interruption_level}
        agent = {k: v for k, v in (("backend", self.backend), ("model", self.model)) if v}
        if agent:
            updates["agent"] = agent
        return updates

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values.pop("errors")
        return values


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _unwrap(raw: Any) -> Mapping[str, Any]:
    """The companion section of a settings payload, whichever way the client wrapped it."""
    if not isinstance(raw, Mapping):
        return {}
    for key in ("companion", "settings"):
        inner = raw.get(key)
        if isinstance(inner, Mapping):
            return _unwrap(inner) if key == "settings" else inner
    return raw


TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
ENUM_ALIASES = {"info": "information", "llama.cpp": "llama_cpp", "llama-cpp": "llama_cpp", "llamacpp": "llama_cpp",
                "never": "off", "none": "off"}


def _natural(value: Any) -> Any:
    """What a person types, read as meant: "3" is 3, "False" is false, " Hint " is "hint"."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    lowered = text.lower()
    if lowered in TRUE_WORDS[:3] or lowered in FALSE_WORDS[:3]:
        return lowered in TRUE_WORDS
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return ENUM_ALIASES.get(lowered, lowered)


def _check(name: str, value: Any) -> Any:
    if name in ("model", "via"):
        return str(value or "").strip()
    value = _natural(value)
    if name == "interruption_level":
        if value in (None, ""):
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 5 or value != int(value):
            raise ValueError(f"interruptionLevel must be 1 to 5 or empty, got {value!r}")
        return int(value)
    if name == "show_message":
        value = {True: "always", False: "off"}.get(value, value) if isinstance(value, bool) else value
        if value not in SHOW_MESSAGE:
            raise ValueError(f"showMessage must be one of {', '.join(SHOW_MESSAGE)}, got {value!r}")
    if name == "diagnostic_severity" and value not in SEVERITIES:
        raise ValueError(f"diagnosticSeverity must be one of {', '.join(SEVERITIES)}, got {value!r}")
    if name == "backend" and (value or "") not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(AGENT_BACKENDS)} or empty, got {value!r}")
    if name in ("diagnostics", "start_daemon"):
        if value in (0, 1) and not isinstance(value, bool):
            value = bool(value)
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
    if name == "edit_flush_s":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"editFlushSeconds must be a number of seconds, got {value!r}")
        return float(value)
    if name == "backend":
        return str(value or "")
    return value


ALIASES = {"edit_flush_seconds": "edit_flush_s", "severity": "diagnostic_severity"}


def updated(current: EditorSettings, raw: Any) -> EditorSettings:
    """A copy of `current` with the values of `raw` that are valid; problems land in `.errors`."""
    values = dataclasses.asdict(current)
    errors: list[str] = []
    known = {f.name for f in dataclasses.fields(EditorSettings)} - {"errors"}
    for key, value in _unwrap(raw).items():
        name = ALIASES.get(_snake(key), _snake(key))
        if name not in known:
            continue  # other editors' or future settings are not an error
        try:
            values[name] = _check(name, value)
        except ValueError as exc:
            errors.append(str(exc))
    values["errors"] = errors
    return EditorSettings(**values)
