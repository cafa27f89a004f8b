"""Permission errors, symbolic-link loops and a vanishing workspace: reported, never a crash."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.filewatch.conftest import DEBOUNCE_MS

_DROP_READ_ANYTHING = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                       "--bounding-set=-dac_override,-dac_read_search"]


def _watch_in_a_process(root: Path, actions: Any) -> list[dict[str, Any]]:
    """Start watch_process.py (as a user without root's read-anything powers), do `actions`, collect output."""
    command = [sys.executable, "-m", "tests.filewatch.watch_process", str(root), str(DEBOUNCE_MS)]
    if os.geteuid() == 0:
        assert shutil.which("setpriv"), "running as root needs setpriv (util-linux) to drop CAP_DAC_OVERRIDE"
        command = _DROP_READ_ANYTHING + command
    repo_root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=repo_root, env={**os.environ, "PYTHONPATH": str(repo_root)})
    assert process.stdout is not None and process.stdin is not None
    early: list[dict[str, Any]] = []
    while True:
        line = process.stdout.readline()
        if not line:
            process.kill()
            raise AssertionError(f"the watcher process ended early: {process.communicate()[1]}")
        message = json.loads(line)
        if message["kind"] == "ready":
            break
        early.append(message)  # errors of the initial walk
    actions()
    time.sleep(DEBOUNCE_MS / 1000 * 4 + 0.5)
    out, err = process.communicate("", timeout=30)
    assert process.returncode == 0, err
    messages = [json.loads(line) for line in out.splitlines()]
    assert messages[-1]["kind"] == "stopped"
    return early + messages[:-1]


def test_unreadable_files_and_folders_are_reported_not_fatal(workspace: Path) -> None:
    locked = workspace / "locked"
    locked.mkdir()
    (locked / "inside.txt").write_text("x")
    locked.chmod(0)
    (workspace / ".env").write_text("TOKEN=abc\n")
    (workspace / ".env").chmod(0)

    def actions() -> None:
        private = workspace / "private.txt"
        private.write_text("no peeking\n")
        private.chmod(0)
        (workspace / ".env").write_text("TOKEN=def\n")  # root may write; the watcher may not read
        (workspace / "open.txt").write_text("fine\n")

    try:
        messages = _watch_in_a_process(workspace, actions)
    finally:
        locked.chmod(0o755)
    errors = [m for m in messages if m["kind"] == "error"]
    events = {m["path"]: m for m in messages if m["kind"].startswith("file.")}
    assert any(e["path"] == "locked" and "permission denied" in e["message"].lower() for e in errors), errors
    assert events["private.txt"]["content_skipped"] == "unreadable"
    assert events["private.txt"]["text"] == "The user created `private.txt` (could not be read)."
    assert any(e["path"] == "private.txt" and "permission denied" in e["message"] for e in errors)
    # a secret file is not even opened: no permission error for it, though it is unreadable
    assert events[".env"]["content_skipped"] == "secret"
    assert not any(e["path"] == ".env" for e in errors)
    assert events["open.txt"]["lines"] == 1


def test_symlink_loops_and_links_to_folders_are_not_followed(workspace: Path, watch) -> None:
    (workspace / "real").mkdir()
    (workspace / "real" / "f.txt").write_text("x\n")
    os.symlink(".", workspace / "self")  # a folder link that would recurse forever if followed
    os.symlink("loop-b", workspace / "loop-a")
    os.symlink("loop-a", workspace / "loop-b")
    w = watch(workspace)
    assert set(w.watcher.tree.dirs) == {"", "real"}
    os.symlink("loop-d", workspace / "loop-c")
    os.symlink("loop-c", workspace / "loop-d")
    created = w.wait_for("file.created", "loop-c")
    assert created["content_skipped"] == "symlink" and created["symlink_loop"] is True
    assert created["text"] == "The user created `loop-c` (a symbolic link to `loop-d` that loops)."
    assert ("file", "symbolic link loop", "loop-c") in w.errors
    (workspace / "real" / "f.txt").write_text("y\n")
    w.wait_for("file.saved", "real/f.txt")
    assert w.watcher._thread is not None and w.watcher._thread.is_alive()


def test_workspace_root_vanishing_stops_the_watcher_cleanly(tmp_path: Path, watch) -> None:
    root = tmp_path / "doomed"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.py").write_text("a = 1\n")
    w = watch(root)
    shutil.rmtree(root)
    w.watcher._thread.join(10)  # the watcher's own thread ends by itself
    assert not w.watcher._thread.is_alive()
    assert ("file", "the workspace folder was deleted or moved; the file watcher stopped", str(root)) in w.errors


def test_workspace_root_moved_away_stops_the_watcher_cleanly(tmp_path: Path, watch) -> None:
    root = tmp_path / "wanderer"
    root.mkdir()
    w = watch(root)
    root.rename(tmp_path / "elsewhere")
    w.watcher._thread.join(10)
    assert not w.watcher._thread.is_alive()
    assert any("workspace folder was deleted or moved" in message for _, message, _ in w.errors)
