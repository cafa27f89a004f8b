"""The file watcher on systems without inotify (macOS, Windows, BSD): watchdog's own observer.

There the platform's observer (FSEvents, ReadDirectoryChangesW, kqueue) watches the workspace
recursively, which costs no per-folder walk on macOS and Windows; events from ignored folders
are dropped here instead of never being produced. The same debouncing, change summaries and
events as on Linux follow (watchers.file_watcher): this module only translates watchdog's
events into the coalescer's raw operations and keeps the folder bookkeeping in step.
"""

from __future__ import annotations

import itertools
import os
import queue
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from watchers.debounce import Coalescer
from watchers.tree import WatchedTree

_cookies = itertools.count(1)


class PortableRelay(FileSystemEventHandler):
    """Hands watchdog's events from the observer's thread to the watcher's queue."""

    def __init__(self, inbox: "queue.Queue[tuple[Any, ...]]") -> None:
        self.inbox = inbox

    def dispatch(self, event: FileSystemEvent) -> None:
        self.inbox.put(("fs", event))


def start_observer(root: str, inbox: "queue.Queue[tuple[Any, ...]]", observer_class: Any = None) -> Any:
    """A started watchdog observer (the platform's default unless one is given) on the workspace."""
    if observer_class is None:
        from watchdog.observers import Observer as observer_class  # noqa: N813
    observer = observer_class()
    observer.schedule(PortableRelay(inbox), root, recursive=True)
    observer.start()
    return observer


def _relative(root: str, path: bytes | str) -> str | None:
    text = os.fsdecode(path)
    if text == root:
        return ""
    if not text.startswith(root + os.sep):
        return None
    return text[len(root) + 1:].replace(os.sep, "/")


def _kept(tree: WatchedTree, path: str, is_dir: bool) -> bool:
    """In a kept folder and not ignored itself (the folders the walk kept are the tree's)."""
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    return parent in tree.dirs and not tree.rules.is_ignored(path, is_dir)


def apply(event: FileSystemEvent, root: str, tree: WatchedTree, coalescer: Coalescer, now: float) -> bool:
    """Record one watchdog event; False when it says the workspace folder itself is gone."""
    path = _relative(root, event.src_path)
    if path is None:
        return True
    is_dir = bool(event.is_directory)
    kind = event.event_type
    if path == "":
        return not (kind in ("deleted", "moved") and not os.path.isdir(root))
    if kind == "moved":
        target = _relative(root, event.dest_path)
        source_kept = _kept(tree, path, is_dir)
        target_kept = target is not None and _kept(tree, target, is_dir)
        cookie = next(_cookies)
        if source_kept:
            coalescer.record_move_from(path, cookie, now, is_dir)
        if target_kept and target is not None:
            coalescer.record_move_to(target, cookie, now, is_dir)
        if is_dir:
            if source_kept and target_kept and target is not None:
                tree.rename_tree(path, target)
            elif source_kept:
                tree.remove_tree(path)
            elif target_kept and target is not None:
                _walk_new(target, tree, coalescer, now)
        elif source_kept:
            tree.files.discard(path)
        return True
    if not _kept(tree, path, is_dir):
        return True
    if kind == "created":
        coalescer.record(path, now, is_dir, wrote=True)
        if is_dir:
            _walk_new(path, tree, coalescer, now)
    elif kind in ("modified", "closed") and not is_dir:
        coalescer.record(path, now, wrote=True)
    elif kind == "deleted":
        coalescer.record(path, now, is_dir)
        if is_dir:
            tree.remove_tree(path)
        else:
            tree.files.discard(path)
    return True


def _walk_new(path: str, tree: WatchedTree, coalescer: Coalescer, now: float) -> None:
    for found in tree.add_tree(path):
        coalescer.record(found, now, wrote=True, before=False)
