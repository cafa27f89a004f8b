"""Fixtures of the reliability suite: real daemon processes, always reaped."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.reliability.processes import kill, start_daemon


@pytest.fixture
def daemon_process() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `companion run` (or `companion watch`: `command="watch"`) processes; whatever still
    runs at the end is killed."""
    started: list[subprocess.Popen[bytes]] = []

    def start(workspace: Path, *args: str, **kwargs: object) -> subprocess.Popen[bytes]:
        process = start_daemon(workspace, *args, **kwargs)  # type: ignore[arg-type]
        started.append(process)
        return process

    yield start
    for process in started:
        kill(process)
