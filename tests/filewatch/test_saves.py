"""An editor's save, however it writes the file, is one `file.saved` event after the debounce."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.conftest import git


def test_atomic_save_via_temp_file_and_rename_is_one_save(repo: Path, watch) -> None:
    (repo / "app.py").write_text("def run():\n    return 1\n")
    git(repo, "add", "app.py")
    w = watch(repo)
    temp = repo / ".app.py.tmp123"
    temp.write_text("def run():\n    return 2\n")
    os.replace(temp, repo / "app.py")
    saved = w.wait_for("file.saved", "app.py")
    events = w.settle()
    assert [e["kind"] for e in events] == ["file.saved"], events
    assert saved["lines_added"] == 1 and saved["lines_removed"] == 1
    assert saved["baseline"] == "git"
    assert saved["symbols"] == ["run"]
    assert saved["text"] == "The user saved `app.py` (+1 −1 lines), changing `run`."


def test_a_burst_of_writes_is_debounced_into_one_event(workspace: Path, watch) -> None:
    target = workspace / "notes.md"
    target.write_text("# notes\n")
    w = watch(workspace)
    for i in range(10):
        with open(target, "a") as handle:
            handle.write(f"line {i}\n")
    w.wait_for("file.saved", "notes.md")
    events = w.settle()
    assert len(events) == 1, events
    # the file existed before the watcher but was never seen: no previous version to compare
    assert events[0]["baseline"] == "unknown" and events[0]["lines"] == 11


def test_vim_backup_rename_dance_is_one_save(workspace: Path, watch) -> None:
    target = workspace / "main.c"
    target.write_text("int main() {\n  return 0;\n}\n")
    w = watch(workspace)
    # vim with 'backupcopy=no': write a probe file, rename the original to a backup, write anew, drop the backup
    probe = workspace / "4913"
    probe.write_text("")
    probe.unlink()
    os.rename(target, workspace / "main.c~")
    target.write_text("int main() {\n  return 1;\n}\n")
    (workspace / "main.c~").unlink()
    w.wait_for("file.saved", "main.c")
    events = w.settle()
    assert [(e["kind"], e["path"]) for e in events] == [("file.saved", "main.c")], events


def test_second_save_is_compared_with_the_first(workspace: Path, watch) -> None:
    w = watch(workspace)
    target = workspace / "api.py"
    target.write_text("class Client:\n    def connect(self):\n        return None\n")
    created = w.wait_for("file.created", "api.py")
    assert created["symbols"] == ["Client", "Client.connect"]
    w.settle()
    target.write_text("class Client:\n    def connect(self):\n        # TODO: handle timeout\n        return None\n")
    saved = w.wait_for("file.saved", "api.py")
    assert saved["baseline"] == "cache"
    assert saved["lines_added"] == 1 and saved["lines_removed"] == 0
    assert saved["symbols"] == ["Client.connect"]
    assert saved["todos_added"] == ["TODO: handle timeout"]
    assert saved["text"] == ("The user saved `api.py` (+1 −0 lines), changing `Client.connect`; "
                             "it adds `TODO: handle timeout`.")


def test_temporary_files_that_come_and_go_produce_nothing(workspace: Path, watch) -> None:
    w = watch(workspace)
    for i in range(5):
        temp = workspace / f"tmp{i}.part"
        temp.write_bytes(b"partial")
        temp.unlink()
    assert w.settle() == []


def test_a_save_just_before_stopping_is_still_reported(workspace: Path, watch) -> None:
    w = watch(workspace, debounce_ms=5000)
    (workspace / "last.txt").write_text("written as the daemon stops\n")
    time.sleep(0.3)  # the raw event is in; the 5 s debounce has not passed
    assert w.emitted() == []
    w.watcher.stop()
    assert [(e["kind"], e["path"]) for e in w.emitted()] == [("file.created", "last.txt")]


def test_a_file_saved_over_and_over_is_reported_at_most_hot_saves_times_a_window(workspace: Path, watch) -> None:
    from watchers.file_watcher import HOT_SAVES

    log = workspace / "server.out"
    log.write_text("")
    w = watch(workspace)
    for i in range(1, HOT_SAVES + 1):
        with open(log, "a") as handle:
            handle.write(f"request {i}\n")
        w.wait(lambda events, n=i: len(events) == n)
    for i in range(HOT_SAVES + 1, HOT_SAVES + 4):  # held back: counted, not read
        with open(log, "a") as handle:
            handle.write(f"request {i}\n")
        time.sleep(0.15)
    assert len(w.settle()) == HOT_SAVES
    w.watcher.hot_window_s = 0.0  # the window has passed
    with open(log, "a") as handle:
        handle.write("request last\n")
    last = w.wait(lambda events: len(events) == HOT_SAVES + 1)[-1]
    assert last["unreported_saves"] == 3
    assert last["lines_added"] == 4  # against the last reported version: the 3 held back and this one
    assert last["text"] == (f"The user saved `server.out` (+4 −0 lines) in 1 place near `request {HOT_SAVES - 3}`. "
                            "It was saved 4 times since the last report.")


def test_a_file_written_nonstop_does_not_delay_other_saves(workspace: Path, watch) -> None:
    import threading

    busy = workspace / "busy.log"
    busy.write_text("")
    (workspace / "app.py").write_text("x = 1\n")
    w = watch(workspace)
    done = threading.Event()

    def keep_writing() -> None:  # faster than the debounce: on its own the workspace is never quiet
        deadline = time.monotonic() + 15
        while not done.is_set() and time.monotonic() < deadline:
            with open(busy, "a") as handle:
                handle.write("tick\n")
            time.sleep(0.02)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        time.sleep(0.3)
        (workspace / "app.py").write_text("x = 2\n")
        saved = w.wait_for("file.saved", "app.py", timeout=12)  # while the log is still being written
        assert writer.is_alive()
    finally:
        done.set()
        writer.join()
    assert saved["path"] == "app.py"
