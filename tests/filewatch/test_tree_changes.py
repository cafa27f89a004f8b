"""Created, deleted and moved files and folders, and folders that appear while watching."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def test_create_delete_and_move_a_file(workspace: Path, watch) -> None:
    w = watch(workspace)
    (workspace / "a.txt").write_text("one\ntwo\n")
    created = w.wait_for("file.created", "a.txt")
    assert created["lines"] == 2
    assert created["text"] == "The user created `a.txt` (2 lines)."
    os.rename(workspace / "a.txt", workspace / "b.txt")
    moved = w.wait_for("file.moved", "b.txt")
    assert moved["old_path"] == "a.txt"
    assert moved["text"] == "The user moved `a.txt` to `b.txt`."
    (workspace / "b.txt").unlink()
    deleted = w.wait_for("file.deleted", "b.txt")
    assert deleted["text"] == "The user deleted `b.txt`."
    kinds = [e["kind"] for e in w.settle()]
    assert kinds == ["file.created", "file.moved", "file.deleted"]


def test_new_folders_are_watched_and_reported_once(workspace: Path, watch) -> None:
    w = watch(workspace)
    (workspace / "pkg" / "sub").mkdir(parents=True)
    (workspace / "pkg" / "sub" / "mod.py").write_text("x = 1\n")
    (workspace / "pkg" / "__init__.py").write_text("")
    folder = w.wait_for("file.created", "pkg")
    assert folder["is_dir"] is True
    assert folder["files"] == 2
    assert folder["text"] == "The user created the folder `pkg` with 2 files."
    w.settle()
    w.clear()
    # the new folder is watched: a later save inside it is seen
    (workspace / "pkg" / "sub" / "mod.py").write_text("x = 2\n")
    saved = w.wait_for("file.saved", "pkg/sub/mod.py")
    assert saved["path"] == "pkg/sub/mod.py"


def test_moved_folder_keeps_being_watched_under_its_new_name(workspace: Path, watch) -> None:
    (workspace / "old" / "deep").mkdir(parents=True)
    (workspace / "old" / "deep" / "f.txt").write_text("a\n")
    w = watch(workspace)
    os.rename(workspace / "old", workspace / "new")
    moved = w.wait_for("file.moved", "new")
    assert moved["old_path"] == "old" and moved["is_dir"] is True
    assert moved["text"] == "The user moved the folder `old` to `new`."
    w.settle()
    (workspace / "new" / "deep" / "f.txt").write_text("b\n")
    saved = w.wait_for("file.saved", "new/deep/f.txt")
    assert saved["path"] == "new/deep/f.txt"


def test_deleting_a_watched_subfolder_is_one_event_and_watching_goes_on(workspace: Path, watch) -> None:
    (workspace / "lib" / "inner").mkdir(parents=True)
    for name in ("a.py", "b.py", "inner/c.py"):
        (workspace / "lib" / name).write_text("pass\n")
    w = watch(workspace)
    shutil.rmtree(workspace / "lib")
    deleted = w.wait_for("file.deleted", "lib")
    assert deleted["is_dir"] is True and deleted["files"] == 3
    assert deleted["text"] == "The user deleted the folder `lib` and its 3 files."
    assert [e["kind"] for e in w.settle()] == ["file.deleted"]
    assert w.errors == []
    (workspace / "after.txt").write_text("still here\n")
    w.wait_for("file.created", "after.txt")


def test_moving_a_file_in_from_outside_is_a_creation(workspace: Path, tmp_path: Path, watch) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("hello\n")
    w = watch(workspace)
    shutil.move(str(outside), workspace / "inside.txt")
    w.wait_for("file.created", "inside.txt")
    shutil.move(str(workspace / "inside.txt"), tmp_path / "gone.txt")
    w.wait_for("file.deleted", "inside.txt")


def test_a_mass_change_is_one_bulk_event(workspace: Path, watch) -> None:
    (workspace / "src").mkdir()
    (workspace / "docs").mkdir()
    for i in range(180):
        (workspace / "src" / f"m{i}.py").write_text("x = 1\n")
    w = watch(workspace)
    # what a branch switch or a formatter does: many files touched in one burst
    for i in range(180):
        (workspace / "src" / f"m{i}.py").write_text("x = 2\n")
    for i in range(30):
        (workspace / "docs" / f"page{i}.md").write_text("# page\n")
    (workspace / "src" / "m0.py").unlink()
    bulk = w.wait(lambda events: any(e["kind"] == "file.bulk" for e in events))[0]
    assert [e["kind"] for e in w.settle()] == ["file.bulk"]
    assert (bulk["total"], bulk["saved"], bulk["created"], bulk["deleted"]) == (210, 179, 30, 1)
    assert bulk["folders"] == ["src/", "docs/"]
    assert bulk["text"] == "210 files changed at once (179 saved, 30 created, 1 deleted), mostly in `src/` and `docs/`."


def test_files_folded_into_a_new_folder_are_known_afterwards(workspace: Path, watch) -> None:
    import time

    w = watch(workspace)
    (workspace / "pkg").mkdir()
    time.sleep(0.03)  # usually lets the watcher watch pkg/ first, so mod.py arrives as its own event
    (workspace / "pkg" / "mod.py").write_text("x = 1\n")
    folder = w.wait_for("file.created", "pkg")
    assert folder["files"] == 1
    w.settle()
    w.clear()
    (workspace / "pkg" / "mod.py").write_text("x = 2\n")
    w.wait_for("file.saved", "pkg/mod.py")
    assert [e["kind"] for e in w.settle()] == ["file.saved"]
