"""The file watcher on watchdog's own observers (what macOS, Windows and BSD use), exercised here
with watchdog's polling observer: the same events as with inotify."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import git


def test_portable_backend_reports_saves_creates_moves_and_deletes(repo: Path, watch) -> None:
    (repo / "app.py").write_text("def run():\n    return 1\n")
    git(repo, "add", "app.py")
    (repo / "node_modules").mkdir()
    w = watch(repo, backend="polling")
    assert w.watcher.backend == "polling" and w.watcher.tree.fd is None
    temp = repo / ".app.py.tmp"
    temp.write_text("def run():\n    return 2\n")
    os.replace(temp, repo / "app.py")
    (repo / "node_modules" / "dep.js").write_text("ignored")
    saved = w.wait_for("file.saved", "app.py")
    assert saved["symbols"] == ["run"] and saved["baseline"] == "git"
    (repo / "pkg").mkdir()
    (repo / "pkg" / "a.txt").write_text("a\n")
    w.wait_for("file.created", "pkg")
    w.settle()
    os.rename(repo / "pkg" / "a.txt", repo / "pkg" / "b.txt")
    moved = w.wait_for("file.moved", "pkg/b.txt")
    assert moved["old_path"] == "pkg/a.txt"
    shutil.rmtree(repo / "pkg")
    w.wait_for("file.deleted", "pkg")
    paths = [e["path"] for e in w.settle()]
    assert not any(p.startswith("node_modules") or p.endswith(".tmp") for p in paths), paths
    assert paths == ["app.py", "pkg", "pkg/b.txt", "pkg"]


def test_portable_backend_stops_cleanly_when_the_root_vanishes(tmp_path: Path, watch) -> None:
    root = tmp_path / "short-lived"
    root.mkdir()
    w = watch(root, backend="polling")
    shutil.rmtree(root)
    assert w.watcher._thread is not None
    w.watcher._thread.join(10)
    assert not w.watcher._thread.is_alive()
    assert any("workspace folder was deleted or moved" in message for _, message, _ in w.errors)
