"""One English sentence per event, in the style of ProactiveBench observations.

"The user ran `pytest -x` in `api/`; it failed (exit 1) after 4.2 s: ImportError: ..."

Renderers register themselves per kind from the modules of `companion.renderers` (one module per
source), so adding an event kind never means editing a central table. Events are redacted
before they reach a renderer (see companion.pipeline).
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from companion.events import Event

Renderer = Callable[[Mapping[str, Any]], str]
_RENDERERS: dict[str, Renderer] = {}
_loaded = False


def renderer(*kinds: str) -> Callable[[Renderer], Renderer]:
    """Register a function rendering the data of the given event kinds."""

    def register(function: Renderer) -> Renderer:
        for kind in kinds:
            _RENDERERS[kind] = function
        return function

    return register


def _load_renderers() -> None:
    global _loaded
    if _loaded:
        return
    import companion.renderers as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    _loaded = True


def known_kinds() -> list[str]:
    _load_renderers()
    return sorted(_RENDERERS)


def render(event: Event) -> str:
    """The sentence for an event; an unknown kind still gets a readable generic sentence."""
    _load_renderers()
    function = _RENDERERS.get(event.kind)
    if function is not None:
        try:
            return function(event.data)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # a malformed event falls through to the generic sentence rather than failing
    details = ", ".join(f"{k}={v}" for k, v in list(event.data.items())[:4] if not isinstance(v, (list, tuple, dict)))
    what = event.kind.replace(".", " ").replace("_", " ")
    return f"The {event.source} watcher reported {what}" + (f" ({details})." if details else ".")


def code(text: Any, limit: int = 120) -> str:
    """Quote a command, path or name in backticks, shortened to keep sentences readable."""
    value = " ".join(str(text).split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return f"`{value}`"


def plural(count: int, word: str, suffix: str = "s") -> str:
    return f"{count} {word}{'' if count == 1 else suffix}"


def listing(items: list[Any] | tuple[Any, ...], limit: int = 4) -> str:
    """`a`, `b` and `c` (and 3 more)."""
    names = [code(i, 60) for i in list(items)[:limit]]
    more = len(items) - len(names)
    if more > 0:
        return ", ".join(names) + f" and {more} more"
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def observation_time(ts: float) -> str:
    """A ProactiveBench-style local time stamp for an observation, e.g. '2026-11-22 14:03:05'."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def observation(event: Event) -> dict[str, str]:
    """The {"time", "event"} pair that agent prompts and exported training data use."""
    return {"time": observation_time(event.ts), "event": render(event)}
