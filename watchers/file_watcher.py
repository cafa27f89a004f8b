"""The file watcher: what the user creates, saves, moves and deletes in the workspace.

Built on watchdog's inotify layer (Linux): one inotify descriptor with a watch per folder that
git does not ignore (watchers.tree, watchers.ignore); elsewhere on watchdog's platform observer
(watchers.portable). Raw operations are debounced into user-level
changes (watchers.debounce), and each save described by what it changed (watchers.file_content
and watchers.changes, against the previous version from watchers.baseline).

Events (paths relative to the workspace, POSIX separators):
    file.saved    path, lines, lines_added, lines_removed, hunks, symbols (Python), todos_added,
                  baseline (cache | git | unknown), or content_skipped (secret | binary | too large
                  | unreadable | symlink) with size
    file.created  path, the same content fields (against an empty file), or is_dir and files
    file.deleted  path, or is_dir and files
    file.moved    path, old_path, is_dir
    file.bulk     total, saved, created, deleted, moved, folders, paths: one event for a burst of more
                  than BULK_CHANGES changes (a branch switch, a formatter, a code generator), so
                  the engine is not flooded and no file of the burst is read

Nothing here may crash the daemon: unreadable folders and files, symbolic-link loops and
folders deleted mid-walk are reported through `context.report_error`; the workspace folder
itself vanishing is reported and stops this watcher cleanly.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import stat
import threading
import time
from collections import deque
from typing import Any

from watchers.base import WatchContext, Watcher
from watchers.baseline import Baselines
from watchers.file_content import Describer
from watchers.debounce import Change, Coalescer
from watchers.ignore import IgnoreRules

log = logging.getLogger(__name__)
_STOP = ("stop",)
BULK_CHANGES = 200
HOT_SAVES = 10  # a file saved this often within hot_window_s (a log, a database, an autosaving editor)
HOT_WINDOW_S = 60.0  # ... is reported at most that often: later saves are counted, not read


class _Relay:
    """watchdog's WatchCallback: hands everything from the inotify thread to the watcher's queue."""

    def __init__(self, inbox: "queue.Queue[tuple[Any, ...]]") -> None:
        self.inbox = inbox

    def on_event(self, event: Any) -> None:
        self.inbox.put(("event", event))

    def on_watch_deleted(self, wd: int) -> None:
        self.inbox.put(("watch-gone", wd))

    def on_queue_overflow(self) -> None:
        self.inbox.put(("overflow",))


class FileWatcher(Watcher):
    """`backend`: "inotify" (Linux), "portable" (watchdog's platform observer) or "polling"
    (watchdog's polling observer, for file systems without change notification); "auto" picks
    inotify where it exists."""

    name = "file"

    def __init__(self, context: WatchContext, backend: str = "auto") -> None:
        super().__init__(context)
        from watchers.tree import HAVE_INOTIFY, WatchedTree

        self.backend = ("inotify" if HAVE_INOTIFY else "portable") if backend == "auto" else backend
        self._observer: Any = None
        settings = context.config.watch
        self.root = str(context.workspace)
        self.quiet_s = max(settings.debounce_ms, 0) / 1000.0
        self.poll_s = min(1.0, max(0.1, self.quiet_s / 2))
        if self.backend == "polling":  # one burst may straddle polls: wait for a few of them
            self.quiet_s = max(self.quiet_s, 2.5 * self.poll_s)
        self.inbox: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.rules = IgnoreRules(context.workspace, settings.ignore)
        self.tree = WatchedTree(self.root, self.rules, _Relay(self.inbox), self._error,
                                use_inotify=self.backend == "inotify")
        self.coalescer = Coalescer(self.quiet_s, known=self.tree.knows, exists=self._exists,
                                   max_wait_s=max(2.0, 4 * self.quiet_s))
        self.baselines = Baselines(context.workspace, in_git=self.rules.repo_root is not None)
        self.describer = Describer(self.root, self.baselines, settings.max_file_bytes,
                                   context.redactor.is_secret_file, self._error)
        self.ready = threading.Event()  # set once the workspace is watched (tests, benchmarks)
        self.startup_s: float | None = None
        self._dir_moves: dict[int, str] = {}
        self._reported: set[tuple[str, str]] = set()
        self.hot_window_s = HOT_WINDOW_S
        self._save_times: dict[str, deque[float]] = {}
        self._unreported_saves: dict[str, int] = {}

    # -- life cycle -----------------------------------------------------------------------
    def run(self) -> None:
        began = time.monotonic()
        self.tree.start()
        try:
            if self.backend != "inotify":
                from watchdog.observers.polling import PollingObserver

                from watchers.portable import start_observer

                polling = functools.partial(PollingObserver, timeout=self.poll_s)
                self._observer = start_observer(self.root, self.inbox, polling if self.backend == "polling" else None)
            self.tree.add_tree("")
            if "" not in self.tree.dirs:
                self.context.report_error(self.name, "cannot watch the workspace folder; file events are off", self.root)
                return
            self.startup_s = time.monotonic() - began
            log.info("file watcher: %d folders, %d files watched in %.2f s", len(self.tree.dirs),
                     len(self.tree.files), self.startup_s)
            self.ready.set()
            self._loop()
        finally:
            self.ready.set()
            if self._observer is not None:
                self._observer.stop()
            self.tree.close()

    def _on_stop(self) -> None:
        self.inbox.put(_STOP)

    def _loop(self) -> None:
        while not self.stopping:
            deadline = self.coalescer.next_deadline()
            # never 0: a move whose other end stays busy keeps a deadline in the past (no busy loop)
            timeout = None if deadline is None else max(0.01, deadline - time.monotonic())
            if self._observer is not None:  # not every platform observer reports its root vanishing
                timeout = 1.0 if timeout is None else min(timeout, 1.0)
                if not os.path.isdir(self.root):
                    self._root_gone()
                    return
            try:
                item = self.inbox.get(timeout=timeout)
            except queue.Empty:
                item = None
            while item is not None:
                if item is _STOP:
                    self._flush(force=True)  # a save just before the daemon stops is still reported
                    return
                if not self._handle(item):
                    return
                try:
                    item = self.inbox.get_nowait()
                except queue.Empty:
                    item = None
            self._flush(force=False)

    def _handle(self, item: tuple[Any, ...]) -> bool:
        """Process one message from the inotify thread; False when the watcher must stop."""
        kind = item[0]
        if kind == "overflow":
            self.context.report_error(self.name, "the kernel dropped file events (inotify queue overflow); "
                                                 "rescanning the workspace", self.root)
            self.tree.add_tree("")
            return True
        if kind == "fs":
            return self._on_portable(item[1])
        if kind == "watch-gone":
            if self.tree.dir_of(item[1]) == "":
                return self._root_gone()
            self.tree.forget_watch(item[1])
            return True
        return self._on_inotify(item[1])

    def _root_gone(self) -> bool:
        self._flush(force=True)
        self.context.report_error(self.name, "the workspace folder was deleted or moved; the file watcher stopped",
                                  self.root)
        self._stop.set()
        return False

    # -- raw operations ---------------------------------------------------------------------
    def _on_inotify(self, event: Any) -> bool:
        folder = self.tree.dir_of(event.wd)
        if folder is None:
            return True
        if event.is_delete_self or event.is_move_self:
            return self._root_gone() if folder == "" and not os.path.isdir(self.root) else True
        name = os.fsdecode(event.name)
        if not name:
            return True
        path = f"{folder}/{name}" if folder else name
        is_dir = bool(event.is_directory)
        if self.rules.is_ignored(path, is_dir):
            if is_dir and event.is_moved_from and path in self.tree.dirs:
                self.tree.remove_tree(path)  # a watched folder renamed to an ignored name
            return True
        now = time.monotonic()
        if event.is_create:
            self.coalescer.record(path, now, is_dir, wrote=True)
            if is_dir:
                for found in self.tree.add_tree(path):
                    self.coalescer.record(found, now, wrote=True, before=False)
        elif event.is_close_write:
            self.coalescer.record(path, now, wrote=True)
        elif event.is_delete:
            self.coalescer.record(path, now, is_dir)
            if is_dir:
                self.tree.remove_tree(path)
            else:
                self.tree.files.discard(path)
        elif event.is_moved_from:
            self.coalescer.record_move_from(path, event.cookie, now, is_dir)
            if is_dir:
                self._dir_moves[event.cookie] = path
            else:
                self.tree.files.discard(path)
        elif event.is_moved_to:
            self.coalescer.record_move_to(path, event.cookie, now, is_dir)
            if is_dir:
                source = self._dir_moves.pop(event.cookie, None)
                if source is not None and source in self.tree.dirs:
                    self.tree.rename_tree(source, path)
                    self.baselines.rename(source, path)
                else:
                    for found in self.tree.add_tree(path):
                        self.coalescer.record(found, now, wrote=True, before=False)
        if name == ".gitignore" and not is_dir:  # after recording: the rescan marks files as known
            self.rules.forget_folder(folder)
            self.tree.refresh(folder)
        return True

    def _on_portable(self, event: Any) -> bool:
        from watchers.portable import apply

        if not apply(event, self.root, self.tree, self.coalescer, time.monotonic()):
            return self._root_gone()
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            full = os.fsdecode(raw)
            if full and os.path.basename(full) == ".gitignore" and full.startswith(self.root):
                folder = os.path.dirname(full)[len(self.root) + 1:].replace(os.sep, "/")
                self.rules.forget_folder(folder)
                self.tree.refresh(folder)
        return True

    def _exists(self, path: str, is_dir: bool) -> bool:
        try:
            mode = os.lstat(self.tree.abs(path)).st_mode
        except OSError:
            return False
        return stat.S_ISDIR(mode) == is_dir

    # -- user-level changes -----------------------------------------------------------------
    def _flush(self, force: bool) -> None:
        changes = self.coalescer.flush(time.monotonic(), force=force)
        if not self.coalescer.pending:
            for source in self._dir_moves.values():  # renamed to somewhere outside the workspace
                self.tree.remove_tree(source)
            self._dir_moves.clear()
            self.tree.vanished.clear()
        if sum(1 for c in changes if not c.folded) > BULK_CHANGES:
            self._bulk(changes)
            return
        for change in changes:
            self._track(change)
            if change.folded or (change.kind == "saved" and self._too_hot(change.path)):
                continue
            try:
                data = self.describer.describe(change)
            except Exception as exc:  # one odd file must not stop the watcher
                log.exception("describing %s failed", change.path)
                self._error(f"could not describe a change: {exc}", change.path)
                continue
            if data is not None:
                repeats = self._unreported_saves.pop(change.path, 0)
                if repeats:
                    data["unreported_saves"] = repeats
                self.context.event("file", f"file.{change.kind}", data)

    def _too_hot(self, path: str) -> bool:
        """True for a save to hold back: the file was reported HOT_SAVES times within the window.
        Its cached text stays that of the last reported save, so the next report's diff covers
        everything written in between."""
        now = time.monotonic()
        times = self._save_times.setdefault(path, deque())
        while times and now - times[0] > self.hot_window_s:
            times.popleft()
        if len(times) >= HOT_SAVES:
            self._unreported_saves[path] = self._unreported_saves.get(path, 0) + 1
            return True
        times.append(now)
        if len(self._save_times) > 4096:  # forget files that have cooled down
            self._save_times = {p: t for p, t in self._save_times.items() if t and now - t[-1] <= self.hot_window_s}
        return False

    def _bulk(self, changes: list[Change]) -> None:
        """One event for a mass change; cached texts of the touched files are dropped (now stale)."""
        counts = {kind: 0 for kind in ("saved", "created", "deleted", "moved")}
        folders: dict[str, int] = {}
        for change in changes:
            self._track(change)
            self.baselines.forget(change.path)
            if change.folded:
                continue
            counts[change.kind] += 1
            top = change.path.split("/", 1)[0] + "/" if "/" in change.path else "."
            folders[top] = folders.get(top, 0) + 1
        busiest = sorted(folders, key=lambda folder: -folders[folder])[:5]
        reported = [c.path for c in changes if not c.folded]
        self.context.event("file", "file.bulk", {"total": len(reported), **counts, "folders": busiest,
                                                 "paths": sorted(reported)[:10]})

    def _track(self, change: Change) -> None:
        """Keep the known files and cached texts in step with what happened."""
        if change.kind == "deleted":
            self.baselines.forget(change.path)
            if change.is_dir:
                self.tree.remove_tree(change.path)
        elif change.kind == "moved":
            if change.old_path is not None and not change.is_dir:
                self.tree.files.discard(change.old_path)
                self.baselines.rename(change.old_path, change.path)
                self.tree.files.add(change.path)
        elif not change.is_dir:
            self.tree.files.add(change.path)

    def _error(self, message: str, path: str | None) -> None:
        """Report a problem once per (message, path), so a file saved in a loop does not flood."""
        key = (message, path or "")
        if key in self._reported:
            return
        self._reported.add(key)
        self.context.report_error(self.name, message, path)


def create(context: WatchContext) -> Watcher | None:
    watcher = FileWatcher(context)
    if watcher.backend != "inotify":
        context.note("the file watcher uses watchdog's platform observer (no inotify here): "
                     "ignored folders are filtered, not skipped")
    return watcher
