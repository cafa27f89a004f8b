"""The contract every watcher follows, after watchdog's emitters and ActivityWatch's aw-watcher-*:
a start/stop thread, events out through a callback into the daemon's queue, errors out through
another callback, and never an exception that reaches the daemon.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from companion.config import Config
from companion.events import Event
from companion.redact import Redactor

log = logging.getLogger(__name__)


@dataclass
class WatchContext:
    """What a watcher needs from the daemon: where to watch, how to emit, how to complain."""

    workspace: Path
    config: Config
    emit: Callable[[Event], None]
    redactor: Redactor
    on_error: Callable[[str, str, str | None], None] = lambda watcher, message, path: None
    notes: list[str] = field(default_factory=list)
    store: Any = None  # the daemon's Store, for watchers that keep offsets (history files, spool)
    # waits (up to the seconds given) until every event emitted so far is committed; a watcher saves
    # an offset past what it read only when this returns True, so a crash never skips unstored input
    flush: Callable[[float], bool] = lambda timeout: True

    def event(self, source: str, kind: str, data: dict[str, Any], ts: float | None = None) -> None:
        """Build and emit an event of this workspace."""
        extra = {"ts": ts} if ts is not None else {}
        self.emit(Event(source=source, kind=kind, data=data, workspace=str(self.workspace), **extra))

    def report_error(self, watcher: str, message: str, path: str | None = None) -> None:
        log.warning("%s watcher: %s%s", watcher, message, f" ({path})" if path else "")
        self.on_error(watcher, message, path)

    def note(self, message: str) -> None:
        """Something the user should know at start-up (e.g. 'not a git repository')."""
        log.info(message)
        self.notes.append(message)


class Watcher(ABC):
    """A source of events with its own thread; `stop` must return promptly."""

    name: str = "watcher"

    def __init__(self, context: WatchContext) -> None:
        self.context = context
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._guarded_run, name=f"watcher-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._on_stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when asked to stop."""
        return self._stop.wait(seconds)

    def _guarded_run(self) -> None:
        try:
            self.run()
        except Exception as exc:  # the daemon survives any watcher failure
            log.exception("%s watcher stopped after an error", self.name)
            self.context.report_error(self.name, f"stopped after an error: {exc}")

    @abstractmethod
    def run(self) -> None:
        """The watcher's loop; return when `self.stopping` becomes true."""

    def _on_stop(self) -> None:
        """Wake a blocking run loop (observers, sockets); default nothing."""
