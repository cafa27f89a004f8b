"""Content-addressed, compressed, private blobs: the snapshots' storage (docs/evidence.md).

Each distinct content is stored once under its BLAKE2b hash (`ab/cdef…`), zlib-compressed;
folders are 0700 and files 0600 from the moment they exist (written to a temporary file opened
with mode 0600, then renamed), so nothing is ever readable by others, even half written.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zlib
from pathlib import Path
from typing import Iterator


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write atomically (temporary file, then rename) with mode 0600 from the start."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class BlobStore:
    """Content-addressed, compressed, private blobs under `root` (`ab/cdef…`)."""

    def __init__(self, root: Path) -> None:
        self.root = private_dir(root)
        self.written = 0  # bytes written since the owner last reset it (for pruning)

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

    def put(self, data: bytes) -> str:
        digest = hashlib.blake2b(data, digest_size=20).hexdigest()
        path = self._path(digest)
        if not path.exists():
            private_dir(path.parent)
            packed = zlib.compress(data, 6)
            write_private(path, packed)
            self.written += len(packed)
        return digest

    def get(self, digest: str) -> bytes | None:
        try:
            return zlib.decompress(self._path(digest).read_bytes())
        except (OSError, zlib.error, ValueError):
            return None

    def digests(self) -> Iterator[tuple[str, int]]:
        """(digest, bytes on disk) of every blob."""
        for folder in os.scandir(self.root):
            if not folder.is_dir(follow_symlinks=False) or len(folder.name) != 2:
                continue
            for entry in os.scandir(folder.path):
                if not entry.name.startswith("."):
                    try:
                        yield folder.name + entry.name, entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue

    def size(self) -> tuple[int, int]:
        """(blobs, bytes on disk)."""
        count = total = 0
        for _digest, size in self.digests():
            count += 1
            total += size
        return count, total

    def delete(self, digest: str) -> None:
        try:
            self._path(digest).unlink()
        except OSError:
            pass
