"""The engine as a daemon service: off with `engine.enabled = false` or `companion run --no-engine`."""

from __future__ import annotations

from typing import Any

from companion.engine.engine import Engine


def create(daemon: Any) -> Engine | None:
    if not daemon.config.engine.enabled:
        return None
    return Engine(daemon)
