"""Which commands belong to a workspace, and which the user never wants recorded.

A command belongs to the workspace that contains its working directory. Shells report the logical
`$PWD` (symlinks kept) while workspaces are resolved paths, so a directory outside the workspace by
name is resolved once (cached) before it is ignored.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Callable


class CommandFilter:
    def __init__(self, workspace: Path, ignore_patterns: list[str],
                 report_error: Callable[[str], None] = lambda message: None) -> None:
        self.workspace = workspace
        self._root = str(workspace)
        self._resolved: dict[str, str] = {}
        self._ignore: list[re.Pattern[str]] = []
        for pattern in ignore_patterns:
            try:
                self._ignore.append(re.compile(pattern))
            except re.error as exc:
                report_error(f"shell.ignore_commands: {pattern!r} is not a valid regex ({exc}); it is not applied")

    def relative_dir(self, cwd: str) -> str | None:
        """`cwd` relative to the workspace ('.' for its root), or None when it lies outside."""
        if not cwd or not cwd.startswith("/"):
            return None
        inside = _inside(os.path.normpath(cwd), self._root)
        if inside is None:
            if cwd not in self._resolved:
                if len(self._resolved) > 1024:
                    self._resolved.clear()
                self._resolved[cwd] = os.path.realpath(cwd)
            inside = _inside(self._resolved[cwd], self._root)
        return inside

    def ignored(self, command: str) -> bool:
        return any(pattern.search(command) for pattern in self._ignore)


def _inside(path: str, root: str) -> str | None:
    if path == root:
        return "."
    if root == "/":
        return path[1:]
    if path.startswith(root + os.sep):
        return path[len(root) + 1:]
    return None


def event_id(*parts: object) -> str:
    """A stable id, so a record read twice (after a crash) is stored once."""
    return hashlib.sha1("\0".join(str(p) for p in parts).encode("utf-8", "replace")).hexdigest()[:32]
