"""The git watcher inside a real in-process Daemon: events reach the store redacted and rendered,
as `companion events` and every client show them."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git, wait_for
from tests.gitwatch.conftest import commit_file, git_fails, quick_config

from companion.ipc import Client


def _git_events(daemon) -> list[dict]:
    with Client(daemon.socket_path, timeout=5) as client:
        return client.request("events", sources=["git"], limit=100)["events"]


def test_commit_and_conflict_reach_the_store_as_sentences(diverged: Path, daemon_factory) -> None:
    daemon = daemon_factory(diverged, config=quick_config(), services=False, watcher_names={"git_watcher"})
    assert [w.name for w in daemon.watchers] == ["git"]
    wait_for(lambda: daemon.watchers[0].state is not None)
    commit_file(diverged, "api/client.py", "client = None\n", "Add the API client")
    wait_for(lambda: any(e["kind"] == "git.commit" for e in _git_events(daemon)))
    git_fails(diverged, "merge", "feature/login")
    wait_for(lambda: any(e["kind"] == "git.conflict" for e in _git_events(daemon)))

    texts = [e["text"] for e in _git_events(daemon)]
    short = git(diverged, "rev-parse", "--short", "HEAD").strip()
    assert texts == [
        f'The user committed {short} "Add the API client" on `main`, changing 1 file (+1 −0): `api/client.py`.',
        "The user started a merge of `feature/login` into `main`.",
        "A merge of `feature/login` into `main` stopped with conflicts in `api/auth.py` and `api/session.py`.",
    ]
    stored = daemon.store.events(workspace=str(daemon.workspace), kinds=["git.conflict"])
    assert stored[0].data["files"] == ("api/auth.py", "api/session.py")


def test_secrets_in_commit_messages_are_redacted_but_hashes_kept(repo: Path, daemon_factory) -> None:
    daemon = daemon_factory(repo, config=quick_config(), services=False, watcher_names={"git_watcher"})
    wait_for(lambda: daemon.watchers[0].state is not None)
    commit_file(repo, "deploy.sh", "deploy\n", "Use key AKIAIOSFODNN7EXAMPLE for deploys")
    head = git(repo, "rev-parse", "HEAD").strip()
    events = wait_for(lambda: [e for e in _git_events(daemon) if e["kind"] == "git.commit"])
    event = events[0]
    assert "AKIAIOSFODNN7EXAMPLE" not in event["text"] and "[REDACTED:" in event["data"]["summary"]
    assert event["data"]["hash"] == head
    assert event["data"]["short"] in event["text"]


def test_not_a_repository_is_noted_and_the_daemon_runs_on(workspace: Path, daemon_factory) -> None:
    daemon = daemon_factory(workspace, config=quick_config(), services=False, watcher_names={"git_watcher"})
    note = f"{workspace} is not a git repository; running without the git watcher"
    assert daemon.watchers == [] and note in daemon.notes
    with Client(daemon.socket_path, timeout=5) as client:
        assert note in client.request("status")["status"]["notes"]
    started = wait_for(lambda: daemon.store.events(workspace=str(daemon.workspace), kinds=["companion.started"]))
    assert note in started[0].data["notes"]
