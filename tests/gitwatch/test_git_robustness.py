"""Odd repository states never crash the watcher: they are reported once and it carries on, or,
when the repository is gone, it stops cleanly."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import git, wait_for
from tests.gitwatch.conftest import commit_file

from companion.render import render


def test_repository_deleted_while_watched(repo: Path, watch) -> None:
    recorder = watch(repo)
    shutil.rmtree(repo)
    wait_for(lambda: recorder.errors)
    watcher, message, path = recorder.errors[0]
    assert watcher == "git" and "deleted" in message and path == str(repo)
    wait_for(lambda: not recorder.watcher._thread.is_alive())  # stopped on its own, no exception
    recorder.watcher.stop()
    assert len(recorder.errors) == 1


def test_missing_commit_object_is_reported_and_the_watcher_carries_on(repo: Path, watch) -> None:
    good = git(repo, "rev-parse", "HEAD").strip()
    recorder = watch(repo, dirty_seconds=0.1)
    missing = "1234567890abcdef1234567890abcdef12345678"
    with open(repo / ".git/logs/HEAD", "a") as reflog:  # what a commit whose object got lost leaves behind
        reflog.write(f"{good} {missing} Test User <test@example.com> {int(time.time())} +0000\tcommit: Lost work\n")
    (repo / ".git/refs/heads/main").write_text(missing + "\n")
    lost = recorder.wait("git.commit")
    assert lost.data["hash"] == missing and "error" in lost.data
    assert render(lost) == "The user committed 1234567 on `main` (its details could not be read)."
    wait_for(lambda: any("bad object" in message for _w, message, _p in recorder.errors))

    git(repo, "update-ref", "refs/heads/main", good)
    commit_file(repo, "after.txt", "fine again\n", "Back to normal")
    assert recorder.wait("git.commit", lambda d: d["summary"] == "Back to normal").data["files_changed"] == 1
    assert recorder.watcher._thread.is_alive()


def test_corrupt_index_is_reported_once_then_recovers(repo: Path, watch) -> None:
    recorder = watch(repo, dirty_seconds=0.1)
    index = repo / ".git/index"
    saved = index.read_bytes()
    index.write_bytes(b"garbage")
    wait_for(lambda: any("index" in message for _w, message, _p in recorder.errors))
    time.sleep(0.5)
    assert len([e for e in recorder.errors if "index" in e[1]]) == 1, "the same problem is reported once"
    index.write_bytes(saved)
    commit_file(repo, "ok.txt", "ok\n", "Works again")
    recorder.wait("git.commit", lambda d: d["summary"] == "Works again")


def test_stale_lock_file_does_not_stop_the_watcher(repo: Path, watch) -> None:
    recorder = watch(repo, dirty_seconds=0.2)
    (repo / ".git/index.lock").write_text("")  # left behind by a crashed git command
    git(repo, "branch", "feature")
    created = recorder.wait("git.refs")
    assert created.to_dict()["data"]["refs"][0]["change"] == "created"
    (repo / "README.md").write_text("edited while the lock exists\n")
    recorder.wait("git.dirty")
    assert recorder.errors == []


def test_without_a_reflog_commits_are_still_reported(repo: Path, watch) -> None:
    git(repo, "config", "core.logAllRefUpdates", "false")
    shutil.rmtree(repo / ".git/logs")
    recorder = watch(repo)
    commit_file(repo, "a.txt", "a\n", "No reflog here")
    assert recorder.wait("git.commit").data["summary"] == "No reflog here"
    git(repo, "checkout", "-q", "-b", "side")
    assert recorder.wait("git.branch").data["to"] == "side"
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    assert recorder.wait("git.refs").to_dict()["data"]["refs"][0]["change"] == "forced"
    assert len(recorder.of_kind("git.commit")) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of their permissions")
def test_unreadable_index_is_reported(repo: Path, watch) -> None:
    recorder = watch(repo, dirty_seconds=0.1)
    index = repo / ".git/index"
    index.chmod(0)
    try:
        wait_for(lambda: any("Permission denied" in message for _w, message, _p in recorder.errors))
    finally:
        index.chmod(0o644)
    commit_file(repo, "ok.txt", "ok\n", "Readable again")
    recorder.wait("git.commit")


def test_repository_broken_at_start_is_watched_once_repaired(repo: Path, watch) -> None:
    index = repo / ".git/index"
    saved = index.read_bytes()
    index.write_bytes(b"not an index")
    recorder = watch(repo, dirty_seconds=0.1)
    wait_for(lambda: recorder.errors)
    assert "index" in recorder.errors[0][1]
    index.write_bytes(saved)
    (repo / "repaired.txt").write_text("ok\n")
    recorder.wait("git.dirty")  # watching again
    git(repo, "add", "repaired.txt")
    git(repo, "commit", "-qm", "After the repair")
    assert recorder.wait("git.commit").data["summary"] == "After the repair"
    assert len(recorder.errors) == 1
