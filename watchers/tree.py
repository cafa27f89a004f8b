"""The set of folders the file watcher watches: every folder of the workspace git does not ignore.

watchdog's recursive inotify observer walks the whole tree and adds a watch for every folder,
`node_modules/` included, before it filters a single event; on a large repository that is most
of the start-up time, memory and inotify watches. Here the walk prunes ignored folders first and
one watchdog `InotifyFD` (one inotify descriptor, one reader thread) gets a watch per kept folder.
New folders are walked and watched as they appear; renamed folders keep their watches (inotify
follows the inode) and are re-labelled here.

The walk also records the files it sees, so a later burst can tell whether a path existed
before it (see watchers.debounce) without reading any file.
"""

from __future__ import annotations

import errno
import os
from typing import Any, Callable

from watchers.ignore import IgnoreRules

try:
    from watchdog.observers.inotify_c import InotifyConstants as IN
    from watchdog.observers.inotify_c import InotifyFD

    WATCH_MASK = (IN.IN_CLOSE_WRITE | IN.IN_CREATE | IN.IN_DELETE | IN.IN_MOVED_FROM | IN.IN_MOVED_TO
                  | IN.IN_DELETE_SELF | IN.IN_MOVE_SELF | IN.IN_ONLYDIR | IN.IN_DONT_FOLLOW)
except Exception:  # not Linux: watchers.portable takes over
    InotifyFD = None  # type: ignore[assignment,misc]
    WATCH_MASK = 0
HAVE_INOTIFY = InotifyFD is not None
_CALLBACK_ID = 1  # one callback per watch: ours


class WatchedTree:
    """Watches on kept folders (relative POSIX paths, "" is the workspace) and the files seen in them."""

    def __init__(self, root: str, rules: IgnoreRules, callback: object,
                 on_error: Callable[[str, str | None], None], use_inotify: bool = True) -> None:
        self.root = root
        self.rules = rules
        self.callback = callback  # has on_event / on_watch_deleted / on_queue_overflow (watchdog's WatchCallback)
        self.on_error = on_error
        # without inotify (other systems) the tree is only bookkeeping: watchers.portable's
        # observer watches the whole workspace and events outside kept folders are dropped
        self.fd: Any = InotifyFD() if use_inotify and HAVE_INOTIFY else None
        self.dirs: dict[str, int] = {}
        self.wds: dict[int, str] = {}
        self.files: set[str] = set()
        # folders whose watch the kernel dropped (deleted) before their parent reported the deletion
        self.vanished: set[str] = set()
        self.limit_reached = False

    def start(self) -> None:
        if self.fd is not None:
            self.fd.start()

    def close(self) -> None:
        if self.fd is not None:
            self.fd.stop()

    def abs(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root

    def dir_of(self, wd: int) -> str | None:
        return self.wds.get(wd)

    def knows(self, rel: str, is_dir: bool) -> bool:
        return (rel in self.dirs or rel in self.vanished) if is_dir else rel in self.files

    def add_tree(self, top: str) -> list[str]:
        """Walk `top` (already judged kept), watching each kept folder; returns the files found in
        folders that were not watched before (so files written before the watch are not missed)."""
        found: list[str] = []
        stack = [top]
        while stack:
            rel = stack.pop()
            fresh = rel not in self.dirs
            if fresh and not self._watch(rel):
                continue
            try:
                with os.scandir(self.abs(rel)) as entries:
                    for entry in entries:
                        child = f"{rel}/{entry.name}" if rel else entry.name
                        try:
                            is_dir = entry.is_dir(follow_symlinks=False)
                        except OSError:
                            is_dir = False
                        if is_dir:
                            if not self.rules.is_ignored(child, True):
                                stack.append(child)
                        else:
                            if child not in self.files:
                                self.files.add(child)
                                if fresh:
                                    found.append(child)
            except FileNotFoundError:
                self.remove_tree(rel)  # deleted while we walked it
            except PermissionError as exc:
                self.on_error(f"cannot list a folder: {exc.strerror}", rel or ".")
            except OSError as exc:
                self.on_error(f"cannot list a folder: {exc.strerror or exc}", rel or ".")
        return found

    def _watch(self, rel: str) -> bool:
        if self.limit_reached:
            return False
        if self.fd is None:
            self.dirs[rel] = -1
            return True
        try:
            wd = self.fd.add_callback(os.fsencode(self.abs(rel)), WATCH_MASK, self.callback, _CALLBACK_ID)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                self.limit_reached = True
                self.on_error("the inotify watch limit is reached (raise fs.inotify.max_user_watches); "
                              "folders from here on are not watched", rel or ".")
            elif exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                self.on_error(f"cannot watch a folder: {exc.strerror or exc}", rel or ".")
            return False
        if wd < 0:  # watchdog swallows EACCES and hands back -1
            self.fd.remove_callbacks([(wd, _CALLBACK_ID)])
            self.on_error("cannot watch a folder: permission denied", rel or ".")
            return False
        old = self.wds.get(wd)
        if old is not None and old != rel:  # the same inode under a new name (a move we saw late)
            self.dirs.pop(old, None)
        self.dirs[rel] = wd
        self.wds[wd] = rel
        return True

    def _under(self, rel: str, path: str) -> bool:
        return not rel or path == rel or path.startswith(rel + "/")

    def remove_tree(self, rel: str) -> list[str]:
        """Forget a folder and everything below it (deleted, moved out, or now ignored);
        returns the files that were known there."""
        gone_dirs = [d for d in self.dirs if self._under(rel, d)]
        callbacks = []
        for folder in gone_dirs:
            wd = self.dirs.pop(folder)
            if wd >= 0 and self.wds.get(wd) == folder:
                del self.wds[wd]
                callbacks.append((wd, _CALLBACK_ID))
        if callbacks and self.fd is not None:
            try:
                self.fd.remove_callbacks(callbacks)
            except OSError:
                pass  # the watches died with their folders
        gone_files = [f for f in self.files if self._under(rel, f)]
        self.files.difference_update(gone_files)
        return gone_files

    def forget_watch(self, wd: int) -> None:
        """The kernel dropped a watch (its folder was deleted)."""
        rel = self.wds.pop(wd, None)
        if rel is not None and self.dirs.get(rel) == wd:
            del self.dirs[rel]
            self.vanished.add(rel)

    def rename_tree(self, old: str, new: str) -> None:
        """A watched folder was renamed inside the workspace: relabel its watches and files."""
        def moved(path: str) -> str:
            return new + path[len(old):]

        for folder in [d for d in self.dirs if self._under(old, d)]:
            wd = self.dirs.pop(folder)
            self.dirs[moved(folder)] = wd
            if wd >= 0:
                self.wds[wd] = moved(folder)
        inside = [f for f in self.files if self._under(old, f)]
        self.files.difference_update(inside)
        self.files.update(moved(f) for f in inside)

    def refresh(self, top: str) -> list[str]:
        """Ignore rules changed under `top`: drop folders now ignored, watch folders now kept."""
        for folder in sorted((d for d in self.dirs if d and self._under(top, d)), key=len):
            if folder in self.dirs and self.rules.is_ignored(folder, True):
                self.remove_tree(folder)
        return self.add_tree(top) if top in self.dirs or not top else []


def inotify_watch_limit() -> int | None:
    try:
        with open("/proc/sys/fs/inotify/max_user_watches") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None
