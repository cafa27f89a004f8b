"""Notice when the daemon's workspace folder is deleted, moved away, or replaced by a new one.

inotify watches die with the folder they were on, so without this a daemon whose workspace was
removed would go on "watching" nothing, silently. One stat a second is enough: the guard compares
the folder's identity (device and inode) with the one it started with and reports each change
once: `missing` when the path is gone (or no longer a folder), `back` when a folder is at the path
again (a new inode: its watchers must be rebuilt).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)
MISSING, BACK = "missing", "back"
CHOICES = ("stop", "wait")  # general.on_workspace_missing


def identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the folder at `path`, or None when there is none."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not os.path.isdir(path):
        return None
    return info.st_dev, info.st_ino


class WorkspaceGuard:
    """A thread calling `on_change(MISSING | BACK)` when the folder at `path` goes or comes back."""

    def __init__(self, path: Path, on_change: Callable[[str], None], interval_s: float = 1.0) -> None:
        self.path = path
        self.on_change = on_change
        self.interval_s = interval_s
        self.known = identity(path)
        self.missing = self.known is None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="workspace-guard", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(5.0)

    def check(self) -> str | None:
        """Look once; returns the change seen (and remembers it), or None."""
        now = identity(self.path)
        if now is None:
            if self.missing:
                return None
            self.missing = True
            return MISSING
        if self.missing or now != self.known:
            # a folder again, or a different folder at the same path (deleted and made anew between two
            # looks): either way the old watches are gone
            was_missing = self.missing
            self.known, self.missing = now, False
            if not was_missing:
                self.on_change(MISSING)  # report the loss first, so the daemon's story stays in order
            return BACK
        return None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                change = self.check()
                if change is not None:
                    self.on_change(change)
            except Exception:  # the guard must never be what stops the daemon by accident
                log.exception("checking the workspace folder failed")
