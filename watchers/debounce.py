"""Turn the file system's raw chatter into what the user did.

An editor's save is rarely one write: it writes a temporary file and renames it over the
original (atomic save), or writes in several chunks, or (vim) renames the original to a backup,
writes a new file and deletes the backup. Reporting each step would drown the engine, so raw
operations are collected until the workspace has been quiet for the debounce time, and then
each path is judged by comparing what existed before the burst with what exists after it:

    existed before and after, written in between   -> saved
    new after the burst                            -> created (or the target of a move)
    gone after the burst                           -> deleted (or the source of a move)
    neither before nor after (temp and swap files) -> nothing

A rename is reported as a move only when its source is gone and its target exists at the end.
Created or deleted paths inside a folder that was itself created or deleted in the same burst
are folded into that folder's event (`rm -rf pkg/` is one event, not a thousand): they come
back marked `folded`, so the caller can keep its bookkeeping without reporting them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Pending:
    """What happened to one path during the current burst."""

    before: bool  # the path existed when the burst began
    is_dir: bool
    first: float
    last: float
    wrote: bool = False


@dataclass
class Change:
    """One user-level change, ready to become an event."""

    kind: str  # saved | created | deleted | moved
    path: str
    is_dir: bool = False
    old_path: str | None = None
    contained: int = 0  # paths folded into this folder's event
    folded: bool = False  # counted in a folder's event: not reported itself (but still happened)


@dataclass
class Coalescer:
    """Collects raw operations; `ready` says when a burst is over and `flush` judges it.

    `known` tells whether a path existed when the burst began (the watcher keeps the set of files
    and folders it has seen); `exists(path, is_dir)` looks at the disk when the burst is over."""

    quiet_s: float
    known: Callable[[str, bool], bool]
    exists: Callable[[str, bool], bool]
    max_wait_s: float = 2.0  # after a burst this long, each path quiet for quiet_s is judged on its own
    pending: dict[str, Pending] = field(default_factory=dict)
    moves: list[tuple[str, str, bool]] = field(default_factory=list)
    _from_cookie: dict[int, tuple[str, bool]] = field(default_factory=dict)
    last_activity: float = 0.0
    burst_start: float = 0.0

    def record(self, path: str, now: float, is_dir: bool = False, wrote: bool = False,
               before: bool | None = None) -> None:
        """Note an operation on `path`; `before` overrides what `known` says (files found by a walk)."""
        if not self.pending:
            self.burst_start = now
        entry = self.pending.get(path)
        if entry is None:
            existed = self.known(path, is_dir) if before is None else before
            entry = self.pending[path] = Pending(before=existed, is_dir=is_dir, first=now, last=now)
        entry.last = now
        entry.is_dir = entry.is_dir or is_dir
        entry.wrote = entry.wrote or wrote
        self.last_activity = now

    def record_move_from(self, path: str, cookie: int, now: float, is_dir: bool = False) -> None:
        self.record(path, now, is_dir)
        self._from_cookie[cookie] = (path, is_dir)

    def record_move_to(self, path: str, cookie: int, now: float, is_dir: bool = False) -> None:
        self.record(path, now, is_dir, wrote=True)
        source = self._from_cookie.pop(cookie, None)
        if source is not None:
            self.moves.append((source[0], path, is_dir))

    def next_deadline(self) -> float | None:
        """When `flush` may have something to do (monotonic seconds), None when nothing waits."""
        if not self.pending:
            return None
        quiet_path = min(p.last for p in self.pending.values()) + self.quiet_s
        return min(self.last_activity + self.quiet_s, max(quiet_path, self.burst_start + self.max_wait_s))

    def flush(self, now: float, force: bool = False) -> list[Change]:
        """Judge every path whose burst is over; keep the others for later."""
        if not self.pending:
            return []
        if force or now - self.last_activity >= self.quiet_s:
            done = set(self.pending)  # the usual case: the whole burst is over, judge it together
        elif now - self.burst_start >= self.max_wait_s:
            # something keeps writing (a log, a build): paths quiet for the debounce go on their own
            done = {p for p, e in self.pending.items() if now - e.last >= self.quiet_s}
        else:
            done = set()
        if not done:
            return []
        # a move whose other end is still busy waits for it
        for source, target, _ in self.moves:
            if (source in done) != (target in done):
                done.discard(source)
                done.discard(target)
        entries = {path: self.pending.pop(path) for path in done}
        moves = [m for m in self.moves if m[0] in entries]
        self.moves = [m for m in self.moves if m[0] not in entries]
        if not self.pending:
            self._from_cookie.clear()
        return _judge(entries, moves, self.exists)


def _judge(entries: dict[str, Pending], moves: list[tuple[str, str, bool]],
           exists: Callable[[str, bool], bool]) -> list[Change]:
    after = {path: exists(path, entry.is_dir) for path, entry in entries.items()}
    changes: list[Change] = []
    moved: set[str] = set()
    for source, target, is_dir in moves:
        # a real rename: the source existed and is gone, the target exists (it may have replaced a file)
        if entries[source].before and not after[source] and after[target]:
            changes.append(Change("moved", target, is_dir, old_path=source))
            moved.update((source, target))
    for path, entry in entries.items():
        if path in moved:
            continue
        if entry.before and after[path]:
            if entry.wrote and not entry.is_dir:
                changes.append(Change("saved", path))
        elif after[path]:
            changes.append(Change("created", path, entry.is_dir))
        elif entry.before:
            changes.append(Change("deleted", path, entry.is_dir))
    return _fold_into_folders(changes)


def _fold_into_folders(changes: list[Change]) -> list[Change]:
    """Mark created/deleted paths under a folder created/deleted in the same burst as folded and
    count them there (they are kept in the list: the watcher still has to know they exist)."""
    folders = {(c.kind, c.path): c for c in changes if c.is_dir and c.kind in ("created", "deleted")}
    if not folders:
        return sorted(changes, key=lambda c: c.path)
    kept: list[Change] = []
    for change in sorted(changes, key=lambda c: c.path):
        parent = change.path
        owner = None
        while "/" in parent:
            parent = parent.rsplit("/", 1)[0]
            owner = folders.get((change.kind, parent)) or owner
        if owner is not None and change.kind in ("created", "deleted"):
            if not change.is_dir:
                owner.contained += 1
            change.folded = True
        kept.append(change)
    return kept
