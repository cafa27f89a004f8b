"""A real file watcher on a real folder, with a short debounce so tests stay fast."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from companion.config import Config
from companion.events import Event, thaw
from companion.redact import Redactor
from companion.render import render
from watchers.base import WatchContext
from watchers.file_watcher import FileWatcher, create

DEBOUNCE_MS = 80


@dataclass
class Watching:
    """A running FileWatcher and what it reported."""

    root: Path
    watcher: FileWatcher
    events: list[Event] = field(default_factory=list)
    errors: list[tuple[str, str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def emitted(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            chosen = [e for e in self.events if kind is None or e.kind == kind]
        return [{"kind": e.kind, **thaw(e.data), "text": render(e)} for e in chosen]

    def wait(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.emitted()
            if predicate(events):
                return events
            time.sleep(0.02)
        raise AssertionError(f"expected events did not come within {timeout} s; got {self.emitted()}")

    def wait_for(self, kind: str, path: str, timeout: float = 10.0) -> dict[str, Any]:
        events = self.wait(lambda evs: any(e["kind"] == kind and e["path"] == path for e in evs), timeout)
        return [e for e in events if e["kind"] == kind and e["path"] == path][-1]

    def settle(self) -> list[dict[str, Any]]:
        """Wait until the debounce has surely passed for everything done so far; all events."""
        time.sleep(DEBOUNCE_MS / 1000 * 4 + 0.2)
        return self.emitted()

    def clear(self) -> None:
        with self.lock:
            self.events.clear()
            self.errors.clear()


@pytest.fixture
def watch() -> Iterator[Callable[..., Watching]]:
    """watch(root, backend="auto", ignore=[...], max_file_bytes=...) starts a FileWatcher; all are
    stopped afterwards."""
    running: list[FileWatcher] = []

    def start(root: Path, backend: str = "auto", **settings: Any) -> Watching:
        config = Config()
        config.watch.debounce_ms = DEBOUNCE_MS
        for key, value in settings.items():
            setattr(config.watch, key, value)
        holder: dict[str, Watching] = {}

        def emit(event: Event) -> None:
            with holder["w"].lock:
                holder["w"].events.append(event)

        def on_error(watcher: str, message: str, path: str | None) -> None:
            with holder["w"].lock:
                holder["w"].errors.append((watcher, message, path))

        context = WatchContext(workspace=root, config=config, emit=emit, redactor=Redactor(), on_error=on_error)
        watcher = create(context) if backend == "auto" else FileWatcher(context, backend=backend)
        assert isinstance(watcher, FileWatcher)
        holder["w"] = Watching(root, watcher)
        watcher.start()
        assert watcher.ready.wait(10), "the file watcher did not start"
        running.append(watcher)
        return holder["w"]

    yield start
    for watcher in running:
        watcher.stop()


def inotify_watch_count() -> int:
    """inotify watches this process holds, read from /proc (what the kernel really has)."""
    import os

    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                count += sum(1 for line in info if line.startswith("inotify wd:"))
        except OSError:
            continue
    return count
