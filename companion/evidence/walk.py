"""Which files a snapshot covers: the workspace walked the way the file watcher sees it.

The ignore rules are the file watcher's (`.gitignore`, companion's defaults, `[watch] ignore`),
handed in by the daemon, so this core module needs no watcher. Their answers for files are
cached (a walk of thousands of files then costs a stat each); folders are asked every time, since
a virtual environment can appear in one. A walk stops at `max_files`, but the files the user
saved last (`touch`) are always in it: those are the likely suspects of a big repository.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

Ignored = Callable[[str, bool], bool]
MAX_HOT = 1000  # saved files always walked
ALWAYS_SKIPPED_DIRS = {".git", ".hg", ".svn", ".jj"}


class TreeWalk:
    """Stats of a workspace's kept files; thread-safe enough for one walker and one toucher."""

    def __init__(self, workspace: Path, ignored: Ignored | None = None, max_files: int = 5000) -> None:
        self.workspace = workspace
        self.ignored = ignored or (lambda path, is_dir: False)
        self.max_files = max_files
        self._ignore_cache: dict[str, bool] = {}  # the rules' answers for files, until forget_ignores()
        self._hot: dict[str, None] = {}  # files the user saved, newest last (see touch)

    def forget_ignores(self) -> None:
        """The ignore rules changed (a .gitignore was saved): ask them again."""
        self._ignore_cache = {}

    def walk(self) -> tuple[dict[str, os.stat_result], bool]:
        """(stat of every file the ignore rules keep, links not followed; whether max_files cut it short)."""
        found: dict[str, os.stat_result] = {}
        stack = [""]
        if len(self._ignore_cache) > 4 * self.max_files:  # files come and go: start the answers over
            self._ignore_cache = {}
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(self.workspace / folder if folder else self.workspace))
            except OSError:
                continue
            for entry in sorted(entries, key=lambda e: e.name):
                rel = f"{folder}/{entry.name}" if folder else entry.name
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                    if is_dir and entry.name in ALWAYS_SKIPPED_DIRS:
                        continue
                    if is_dir:  # folders are asked every time (a virtual environment can appear in one)
                        decided = bool(self.ignored(rel, True))
                    else:
                        decided = self._ignore_cache.get(rel)
                        if decided is None:
                            decided = self._ignore_cache[rel] = bool(self.ignored(rel, False))
                    if decided:
                        continue
                    if is_dir:
                        stack.append(rel)
                        continue
                    found[rel] = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if len(found) >= self.max_files:
                    self._add_hot(found)
                    return found, True
        return found, False

    def touch(self, path: str) -> None:
        """A file the user saved: kept in every walk, even one that max_files cuts short."""
        if not path or path.startswith("/") or ".." in path.split("/"):
            return  # only paths inside the workspace
        self._hot.pop(path, None)
        self._hot[path] = None
        while len(self._hot) > MAX_HOT:
            self._hot.pop(next(iter(self._hot)))

    def _add_hot(self, found: dict[str, os.stat_result]) -> None:
        for path in list(self._hot):
            if path not in found and not self._ignore_cache.get(path, False):
                try:
                    found[path] = os.lstat(self.workspace / path)
                except OSError:
                    continue
