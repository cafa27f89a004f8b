"""Follow a file that other programs append to, across restarts, truncation and rotation.

A position is (device, inode, offset) plus a fingerprint of the file's first bytes. The fingerprint,
not the inode, decides whether reading goes on where it stopped: the same content under a new inode
(fish rewrites its history through a rename) goes on; a truncated file, a rotated one, or a new file
that reuses an inode number (a deleted spool segment) starts again (`restarted`). Positions are plain dicts so they
can be stored with `Store.set_state` and survive a daemon restart; only the new part of a large
file is ever read again.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HEAD_BYTES = 256
MAX_READ = 4 * 1024 * 1024  # bytes read per call; the rest waits for the next call


@dataclass
class Position:
    dev: int
    ino: int
    offset: int
    head_len: int
    head: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any) -> "Position | None":
        try:
            return cls(int(raw["dev"]), int(raw["ino"]), int(raw["offset"]), int(raw["head_len"]), str(raw["head"]))
        except (KeyError, TypeError, ValueError):
            return None


def fingerprint(handle: Any, length: int) -> str:
    handle.seek(0)
    return hashlib.sha1(handle.read(length)).hexdigest()


@dataclass
class Chunk:
    """New complete lines of a file: `data` ends with a newline (or is empty)."""

    data: bytes
    position: Position
    restarted: bool  # the file is not the one the old position described (truncated, replaced)


def read_new(path: Path, old: Position | None, whole_lines: bool = True, max_read: int = MAX_READ) -> Chunk | None:
    """The bytes appended to `path` since `old` (everything when `old` is None or no longer applies).

    Returns None when the file does not exist. With `whole_lines`, a last line still being written
    (no newline yet) is left for the next call.
    """
    try:
        handle = open(path, "rb")
    except OSError:
        return None
    with handle:
        stat = os.fstat(handle.fileno())
        size = stat.st_size
        restarted = False
        offset = 0
        if old is not None:
            same_head = size >= old.head_len and fingerprint(handle, old.head_len) == old.head
            if same_head and size >= old.offset:
                offset = old.offset
            else:
                restarted = True
        data = b""
        if size > offset:
            handle.seek(offset)
            data = handle.read(min(size - offset, max_read))
            if whole_lines:
                cut = data.rfind(b"\n")
                data = data[: cut + 1] if cut >= 0 else b""
        new_offset = offset + len(data)
        head_len = min(HEAD_BYTES, max(new_offset, 0))
        if old is not None and not restarted and old.head_len == head_len:
            head = old.head
        else:
            head = fingerprint(handle, head_len)
        return Chunk(data, Position(stat.st_dev, stat.st_ino, new_offset, head_len, head), restarted)


def position_at_end(path: Path) -> Position | None:
    """A position after the last complete line of `path` (to follow only what comes next)."""
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            size = stat.st_size
            handle.seek(max(0, size - 65536))
            tail = handle.read()
            cut = tail.rfind(b"\n")
            end = size - len(tail) + cut + 1 if cut >= 0 else (size if size <= 65536 else size - len(tail))
            head_len = min(HEAD_BYTES, end)
            return Position(stat.st_dev, stat.st_ino, end, head_len, fingerprint(handle, head_len))
    except OSError:
        return None


def position_at(path: Path, offset: int) -> Position | None:
    """A position at a given offset of `path` (e.g. before an entry not finished yet)."""
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            head_len = min(HEAD_BYTES, offset)
            return Position(stat.st_dev, stat.st_ino, offset, head_len, fingerprint(handle, head_len))
    except OSError:
        return None
