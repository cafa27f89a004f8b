"""Daemon services: long-running parts beside the watchers (engine, spool ingest, expiry...).

A module here exposes `create(daemon) -> Service | None`; the daemon starts every service it
finds after the pipeline and the socket, and stops them in reverse order. A service may add
socket operations with `daemon.add_handler(op, fn)` and status fields with
`daemon.status_providers.append(fn)`.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable, Protocol


class Service(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


def discover() -> list[tuple[str, Callable[[Any], "Service | None"]]]:
    import companion.services as package

    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        factory = getattr(module, "create", None)
        if callable(factory):
            found.append((info.name, factory))
    return found
