"""Which settings a running daemon takes on at once, and how a new config reaches the old one.

Parts of the daemon hold references to its `Config` sections (the budget holds `config.engine`,
the engine reads `config.general.interruption_level` at each step), so a new config is copied
into the running one field by field (`merge_into`) instead of replacing it: every holder sees
the new values at once. What a running daemon cannot take on (the watchers, the redactor, the
evidence stage are built once at start) is named by `restart_needed`, and the daemon's status
says so instead of pretending the change took effect.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable

from companion.config import Config

# "section" (every key of it) or "section.key": read when used, or reloaded by the engine
LIVE = frozenset({
    "general.interruption_level",
    "engine.max_per_hour", "engine.cooldown_s", "engine.backoff_s", "engine.expire_s", "engine.quiet_hours",
    "engine.snooze_s", "engine.repeat_window_s",
    "agent",  # the engine reloads the backend and model
    "gate",  # the engine rebuilds the gate
    "quickfix",  # the engine rebuilds the rule book
    "editor",  # read by each editor when it connects
})


def is_live(key: str) -> bool:
    return key in LIVE or key.split(".", 1)[0] in LIVE


def restart_needed(changed: Iterable[str]) -> list[str]:
    """The changed "section.key" names that only a restart of the daemon applies."""
    return sorted(key for key in changed if not is_live(key))


def sections(config: Config) -> dict[str, Any]:
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "sources"}


def merge_into(target: Config, source: Config) -> list[str]:
    """Copy every value of `source` into `target`'s own section objects; the changed "section.key" names."""
    changed: list[str] = []
    theirs = sections(source)
    for name, section in sections(target).items():
        for field in dataclasses.fields(section):
            new = getattr(theirs[name], field.name)
            if getattr(section, field.name) != new:
                setattr(section, field.name, new)
                changed.append(f"{name}.{field.name}")
    target.sources[:] = list(source.sources)
    return changed


def values_of(config: Config, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """{section: {key: value}} of the named "section.key" settings (what a `config` message carries)."""
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        section, name = key.split(".", 1)
        out.setdefault(section, {})[name] = getattr(getattr(config, section), name)
    return out
