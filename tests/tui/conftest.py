"""Fixtures of the dashboard tests: UTC clock display, a live daemon, and a snapshot-ready app."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import pytest


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Times on screen are local times; pin the zone so snapshots match on every machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.fixture
def live(repo: Path, daemon_factory: Callable[..., Any]) -> Any:
    """A real in-process daemon on a real git repository (no watchers: events come from the test)."""
    return daemon_factory(repo, services=False, watcher_names=set())
