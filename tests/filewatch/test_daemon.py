"""Through a real in-process daemon: what a user sees in the store and on the socket."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from companion.config import Config
from companion.ipc import Client
from tests.conftest import git, wait_for


def _config(debounce_ms: int = 60) -> Config:
    config = Config()
    config.watch.debounce_ms = debounce_ms
    return config


def _file_events(daemon) -> list[dict]:
    return [{"kind": e.kind, **dict(e.data)} for e in daemon.store.events(workspace=str(daemon.workspace), sources=["file"])]


def test_saves_reach_the_store_rendered_and_redacted(repo: Path, daemon_factory) -> None:
    (repo / "api").mkdir()
    (repo / "api" / "client.py").write_text("def connect():\n    return None\n\n\ndef retry():\n    pass\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "client")
    daemon = daemon_factory(repo, config=_config(), services=False)
    assert "file" in [w.name for w in daemon.watchers]
    wait_for(lambda: next(w for w in daemon.watchers if w.name == "file").ready.is_set())
    temp = repo / "api" / ".client.py.swp-save"
    temp.write_text("def connect():\n    token = load()  # TODO: drop ghp_abcdefghijklmnopqrstuvwxyz0123456789\n"
                    "    return None\n\n\ndef retry():\n    return 3\n")
    os.replace(temp, repo / "api" / "client.py")
    wait_for(lambda: _file_events(daemon))
    daemon.pipeline.flush()
    time.sleep(0.3)
    events = _file_events(daemon)
    assert [e["kind"] for e in events] == ["file.saved"]
    saved = events[0]
    assert saved["path"] == "api/client.py"
    assert saved["symbols"] == ("connect", "retry")
    assert saved["lines_added"] == 2 and saved["lines_removed"] == 1
    assert saved["todos_added"] == ("TODO: drop [REDACTED:github-token]",)  # redacted before it was stored
    with Client(daemon.socket_path) as client:
        stored = client.request("events", kinds=["file.saved"])["events"]
    assert stored[-1]["text"] == ("The user saved `api/client.py` (+2 −1 lines), changing `connect` and `retry`; "
                                  "it adds `TODO: drop [REDACTED:github-token]`.")


def test_events_are_pushed_to_subscribers(workspace: Path, daemon_factory) -> None:
    daemon = daemon_factory(workspace, config=_config(), services=False)
    pushed: list[dict] = []
    with Client(daemon.socket_path, on_message=pushed.append) as client:
        client.request("subscribe", topics=["event"])
        (workspace / "notes.txt").write_text("hello\n")
        wait_for(lambda: [m for m in pushed if m["event"]["kind"] == "file.created"])
    created = [m["event"] for m in pushed if m["event"]["kind"] == "file.created"][0]
    assert created["data"]["path"] == "notes.txt"
    assert created["text"] == "The user created `notes.txt` (1 line)."


def test_ignored_paths_never_reach_the_store(repo: Path, daemon_factory) -> None:
    (repo / ".gitignore").write_text("dist/\n")
    (repo / "node_modules").mkdir()
    (repo / "dist").mkdir()
    daemon = daemon_factory(repo, config=_config(), services=False)
    wait_for(lambda: next(w for w in daemon.watchers if w.name == "file").ready.is_set())
    (repo / "node_modules" / "x.js").write_text("1")
    (repo / "dist" / "app.js").write_text("1")
    (repo / "kept.txt").write_text("1")
    wait_for(lambda: _file_events(daemon))
    time.sleep(0.3)
    assert [e["path"] for e in _file_events(daemon)] == ["kept.txt"]


def test_daemon_survives_its_workspace_vanishing(tmp_path: Path, daemon_factory) -> None:
    root = tmp_path / "gone-soon"
    root.mkdir()
    daemon = daemon_factory(root, config=_config(), services=False)
    wait_for(lambda: next(w for w in daemon.watchers if w.name == "file").ready.is_set())
    shutil.rmtree(root)

    def error_stored() -> list:
        return [e for e in daemon.store.events(workspace=str(daemon.workspace), kinds=["companion.error"])]

    errors = wait_for(error_stored)
    assert errors[0].data["watcher"] == "file"
    with Client(daemon.socket_path) as client:
        assert client.request("ping")["ok"] is True
        texts = [e["text"] for e in client.request("events", kinds=["companion.error"])["events"]]
    assert texts == [f"The file watcher reported a problem for `{root}`: the workspace folder was deleted or moved; "
                     "the file watcher stopped."]
