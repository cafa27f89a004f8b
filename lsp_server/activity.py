"""What the developer does in the editor, reported to the daemon as `editor.*` events.

Only where and how much, never what: a file opened, saved, closed or focused, and edits as
line ranges and counts. Typing produces a change per keystroke, so edits to a file are
gathered and reported at most once per `flush_s` seconds (and before a save or close of that
file, so the events keep their order).
"""

from __future__ import annotations

import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable

from pygls.uris import to_fs_path

Emit = Callable[[list[dict[str, Any]]], None]
Schedule = Callable[[float, Callable[[], None]], Any]
MAX_RANGES = 8


@dataclass
class PendingEdits:
    first_ts: float = field(default_factory=time.time)
    changes: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    ranges: list[list[int]] = field(default_factory=list)  # merged 1-based [first, last] lines

    def add(self, first: int, last: int, added: int, removed: int) -> None:
        self.changes += 1
        self.lines_added += added
        self.lines_removed += removed
        self.ranges.append([first, last])
        self.ranges.sort()
        merged: list[list[int]] = []
        for start, end in self.ranges:
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.ranges = merged


def change_summary(change: Any, old_line_count: int) -> tuple[int, int, int, int]:
    """(first line, last line, lines added, lines removed) of one content change, 1-based."""
    text = getattr(change, "text", "") or ""
    added_lines = text.count("\n")
    change_range = getattr(change, "range", None)
    if change_range is None:  # a full-document change
        new_count = added_lines + (0 if text.endswith("\n") or not text else 1)
        return 1, max(1, new_count), max(0, new_count - old_line_count), max(0, old_line_count - new_count)
    start, end = change_range.start.line, change_range.end.line
    removed = end - start
    return start + 1, start + 1 + max(added_lines, 0), added_lines, removed


class EditorActivity:
    """Turns document notifications into events; `emit` sends a list of raw events."""

    def __init__(self, emit: Emit, schedule: Schedule, flush_s: float = 2.0, editor: str = "") -> None:
        self.emit = emit
        self.schedule = schedule
        self.flush_s = flush_s
        self.editor = editor
        self._pending: dict[str, PendingEdits] = {}
        self._focused: str | None = None
        self._window_focused = True
        self._line_counts: dict[str, int] = {}

    def _event(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        if self.editor:
            data = {**data, "editor": self.editor}
        return {"source": "editor", "kind": kind, "ts": time.time(), "data": data}

    def opened(self, path: str, language: str, lines: int) -> None:
        self._line_counts[path] = lines
        self.emit([self._event("editor.opened", {"path": path, "language": language, "lines": lines})])

    def closed(self, path: str) -> None:
        self.flush(path)
        self._line_counts.pop(path, None)
        if self._focused == path:
            self._focused = None
        self.emit([self._event("editor.closed", {"path": path})])

    def saved(self, path: str, lines: int | None) -> None:
        self.flush(path)
        data: dict[str, Any] = {"path": path}
        if lines is not None:
            data["lines"] = lines
        self.emit([self._event("editor.saved", data)])

    def focused(self, path: str) -> bool:
        """Report a switch to another file; returns whether the focus really changed."""
        if path == self._focused:
            return False
        self._focused = path
        self.emit([self._event("editor.focused", {"path": path})])
        return True

    def window_focus(self, focused: bool) -> bool:
        if focused == self._window_focused:
            return False
        self._window_focused = focused
        self.emit([self._event("editor.window", {"focused": focused})])
        return True

    @property
    def focused_path(self) -> str | None:
        return self._focused

    @property
    def window_focused(self) -> bool:
        return self._window_focused

    def changed(self, path: str, changes: list[Any], new_line_count: int) -> None:
        old_line_count = self._line_counts.get(path, new_line_count)
        self._line_counts[path] = new_line_count
        pending = self._pending.get(path)
        if pending is None:
            pending = self._pending[path] = PendingEdits()
            self.schedule(self.flush_s, lambda: self.flush(path))
        for change in changes:
            pending.add(*change_summary(change, old_line_count))

    def flush(self, path: str | None = None) -> None:
        """Report the gathered edits of one file (or of all files)."""
        targets = [path] if path is not None else list(self._pending)
        events = []
        for target in targets:
            pending = self._pending.pop(target, None)
            if pending is None or not pending.changes:
                continue
            events.append(self._event("editor.edited", {
                "path": target, "changes": pending.changes, "lines_added": pending.lines_added,
                "lines_removed": pending.lines_removed, "ranges": pending.ranges[:MAX_RANGES],
                "more_ranges": max(0, len(pending.ranges) - MAX_RANGES),
                "over_s": round(time.time() - pending.first_ts, 1)}))
        if events:
            self.emit(events)


def document_path(uri: str, workspace: Path) -> str | None:
    """The workspace-relative path of a file URI, or None for other schemes and outside files."""
    if not uri.startswith("file:"):
        return None
    fs_path = to_fs_path(uri)
    if not fs_path:
        return None
    try:
        return Path(fs_path).resolve().relative_to(workspace).as_posix()
    except ValueError:
        return None
