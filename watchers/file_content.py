"""What a change event says about the file: its content summary, or why there is none.

Reading is careful: links are never followed, secret files (by name) are never opened, files
over the size limit are not read, and a file that cannot be read gives an event that says so
(and one error report) instead of an exception.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Any, Callable

from watchers.baseline import Baselines
from watchers.changes import read_text, summarize
from watchers.debounce import Change


class Describer:
    """Turns a judged change into event data (see watchers.file_watcher for the fields)."""

    def __init__(self, root: str, baselines: Baselines, max_bytes: int, is_secret_file: Callable[[str], bool],
                 report: Callable[[str, str | None], None]) -> None:
        self.root = root
        self.baselines = baselines
        self.max_bytes = max_bytes
        self.is_secret_file = is_secret_file
        self.report = report

    def describe(self, change: Change) -> dict[str, Any] | None:
        data: dict[str, Any] = {"path": change.path}
        if change.is_dir:
            data["is_dir"] = True
            if change.kind in ("created", "deleted"):
                data["files"] = change.contained
        if change.kind == "moved":
            data["old_path"] = change.old_path
            return data
        if change.kind == "deleted" or change.is_dir:
            return data
        content = self._content(change)
        if content is None:
            return None  # gone again before we could look: the next burst reports it
        data.update(content)
        return data

    def _content(self, change: Change) -> dict[str, Any] | None:
        full = os.path.join(self.root, change.path)
        try:
            info = os.lstat(full)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.report(f"cannot read a file's status: {exc.strerror or exc}", change.path)
            return {"content_skipped": "unreadable"}
        if stat.S_ISLNK(info.st_mode):
            return self._symlink(change.path, full)
        if self.is_secret_file(change.path):
            return {"content_skipped": "secret", "size": info.st_size}
        if not stat.S_ISREG(info.st_mode):
            return {"content_skipped": "not a regular file"}
        if info.st_size > self.max_bytes:
            return {"content_skipped": "too large", "size": info.st_size}
        try:
            text = read_text(full, self.max_bytes)
        except FileNotFoundError:
            return None
        except PermissionError:
            self.report("cannot read a file: permission denied", change.path)
            return {"content_skipped": "unreadable", "size": info.st_size}
        except OSError as exc:
            self.report(f"cannot read a file: {exc.strerror or exc}", change.path)
            return {"content_skipped": "unreadable", "size": info.st_size}
        if text.text is None:
            self.baselines.forget(change.path)
            return {"content_skipped": text.skipped, "size": text.size}
        if change.kind == "created":
            old, origin = "", "empty"
        else:
            old, origin = self.baselines.previous(change.path)
        summary = summarize(old, text.text, change.path)
        self.baselines.remember(change.path, text.text)
        result: dict[str, Any] = {"size": text.size, **summary}
        if change.kind == "saved":
            result["baseline"] = origin
        if text.encoding_errors:
            result["encoding_errors"] = True
        return result

    def _symlink(self, path: str, full: str) -> dict[str, Any]:
        """Links are never followed for content; a loop or a dangling link is worth a word."""
        try:
            target = os.readlink(full)
        except OSError:
            target = "?"
        data: dict[str, Any] = {"content_skipped": "symlink", "symlink_to": target}
        try:
            os.stat(full)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self.report("symbolic link loop", path)
                data["symlink_loop"] = True
            elif exc.errno == errno.ENOENT:
                data["dangling"] = True
        return data
