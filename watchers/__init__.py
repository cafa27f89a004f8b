"""Watchers: one module per source; each only produces Events.

A watcher module exposes `create(context: WatchContext) -> Watcher | None`; the daemon finds
them by iterating this package (see `discover`), so a new source is one new module.
`create` returns None, after `context.note(...)`, when the source does not apply
(e.g. the folder is not a git repository).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import Callable

from watchers.base import WatchContext, Watcher

log = logging.getLogger(__name__)

Factory = Callable[[WatchContext], "Watcher | None"]


def discover() -> list[tuple[str, Factory]]:
    """Every watcher factory in this package, in name order."""
    import watchers as package

    found: list[tuple[str, Factory]] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name in ("base",) or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        factory = getattr(module, "create", None)
        if callable(factory):
            found.append((info.name, factory))
    return found


def build(context: WatchContext, only: set[str] | None = None) -> list[Watcher]:
    """Instantiate the watchers that apply to this workspace; a failing factory is reported, not fatal."""
    built: list[Watcher] = []
    for name, factory in discover():
        if only is not None and name not in only:
            continue
        try:
            watcher = factory(context)
        except Exception as exc:  # one broken source must not stop the others
            context.report_error(name, f"could not start: {exc}")
            continue
        if watcher is not None:
            built.append(watcher)
    return built
