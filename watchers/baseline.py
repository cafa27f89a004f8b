"""The previous version of a file, to say what a save changed, without reading the tree at start-up.

Two cheap sources: a bounded in-memory cache of the files seen since the watcher started (every
save and creation leaves its text here), and, for the first save of a file git tracks, the blob
in git's index (`git show :./path`: the version last staged or checked out). A file that is
neither cached nor tracked has no known previous version; its first save reports its size only.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import OrderedDict
from pathlib import Path

from companion.evidence.text import decode


class Baselines:
    """Last known text per workspace path (POSIX, relative), least recently used dropped first."""

    def __init__(self, workspace: Path, in_git: bool, max_files: int = 512, max_bytes: int = 32_000_000) -> None:
        self.workspace = workspace
        self.use_git = in_git and shutil.which("git") is not None
        self.max_files = max_files
        self.max_bytes = max_bytes
        self._texts: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0

    def previous(self, path: str) -> tuple[str | None, str]:
        """(text, where it came from: "cache" | "git" | "unknown")."""
        text = self._texts.get(path)
        if text is not None:
            self._texts.move_to_end(path)
            return text, "cache"
        if self.use_git:
            text = self._from_git(path)
            if text is not None:
                return text, "git"
        return None, "unknown"

    def _from_git(self, path: str) -> str | None:
        try:
            result = subprocess.run(["git", "show", f":./{path}"], cwd=self.workspace, capture_output=True,
                                    timeout=10, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            return None
        if result.returncode != 0:
            return None  # not tracked (or no index yet)
        text, _ = decode(result.stdout)
        return text

    def remember(self, path: str, text: str) -> None:
        self.forget(path)
        if len(text) > self.max_bytes // 4:
            return
        self._texts[path] = text
        self._bytes += len(text)
        while self._texts and (len(self._texts) > self.max_files or self._bytes > self.max_bytes):
            _, dropped = self._texts.popitem(last=False)
            self._bytes -= len(dropped)

    def forget(self, path: str) -> None:
        text = self._texts.pop(path, None)
        if text is not None:
            self._bytes -= len(text)

    def rename(self, old: str, new: str) -> None:
        """A file or folder moved: its cached texts follow it."""
        prefix = old + "/"
        for path in [p for p in self._texts if p == old or p.startswith(prefix)]:
            text = self._texts.pop(path)
            self._texts[new + path[len(old):]] = text
