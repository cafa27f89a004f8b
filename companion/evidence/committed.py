"""Committed copies: the content of files at HEAD, read-only, for a green run that came too late.

When a green run's event reaches the pipeline after the user saved a file again, and companion has
no copy of that file older than the run (a fresh daemon that has not read the tree yet), the
version at HEAD is the best known content of the run: it is exact for a file that had no
uncommitted change before the run, and its hunks are marked as measured from the commit
(`since: "commit"`). Only `git cat-file --batch` reads it (one process for all such files, with
GIT_OPTIONAL_LOCKS=0): never the index, refs or stash. Without git, outside a repository, for an
untracked file or on any error the answer is simply missing.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import IO

MAX_FILES = 100  # files asked per green run
TIMEOUT_S = 2.0
_CHUNK = 1 << 16
_GIT_ENV_DROPPED = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_NAMESPACE",
                    "GIT_CEILING_DIRECTORIES")


def _skip(stream: IO[bytes], count: int) -> bool:
    while count > 0:
        chunk = stream.read(min(count, _CHUNK))
        if not chunk:
            return False
        count -= len(chunk)
    return True


def committed(workspace: Path, paths: list[str], max_bytes: int, timeout: float = TIMEOUT_S) -> dict[str, bytes]:
    """{path: its bytes at HEAD} for the paths (relative to the workspace, which may lie anywhere
    in the repository) that HEAD has as a file of at most max_bytes; the others are left out."""
    wanted = [p for p in dict.fromkeys(paths) if p and "\n" not in p and "\r" not in p][:MAX_FILES]
    if not wanted:
        return {}
    env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_DROPPED}
    env.update(GIT_OPTIONAL_LOCKS="0", LC_ALL="C", GIT_TERMINAL_PROMPT="0")
    try:
        process = subprocess.Popen(["git", "cat-file", "--batch"], cwd=workspace, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    except (OSError, ValueError):
        return {}  # no git
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout

    def feed() -> None:  # in a thread: many long paths could fill the pipe while git waits to write
        try:
            stdin.write("".join(f"HEAD:./{p}\n" for p in wanted).encode("utf-8", errors="surrogateescape"))
            stdin.close()
        except (OSError, ValueError):
            pass

    timer = threading.Timer(timeout, process.kill)  # a stuck git costs the copies, never the pipeline
    timer.start()
    writer = threading.Thread(target=feed, name="evidence-git-feed", daemon=True)
    writer.start()
    found: dict[str, bytes] = {}
    try:
        for path in wanted:
            header = stdout.readline().split()  # "<oid> <type> <size>", or "<name> missing" / "ambiguous"
            if not header:
                break  # not a repository (git exited), or killed
            if len(header) != 3 or not header[2].isdigit():
                continue
            size = int(header[2])
            if header[1] != b"blob" or size > max_bytes:
                if not _skip(stdout, size + 1):
                    break
                continue
            data = stdout.read(size)
            if len(data) != size or stdout.read(1) != b"\n":
                break
            found[path] = data
    except (OSError, ValueError):
        pass
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
        try:
            stdout.close()
        except OSError:
            pass
        process.wait()
        writer.join(1.0)
    return found
