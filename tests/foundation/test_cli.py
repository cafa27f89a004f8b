"""The command line as a user runs it: real subprocesses, real store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from companion.events import Event
from companion.store import Store
from tests.conftest import run_cli


def seed(workspace: Path) -> None:
    now = time.time()
    with Store() as store:
        store.add_events([
            Event(source="shell", kind="shell.command", workspace=str(workspace), ts=now - 7200, data={"command": "make"}),
            Event(source="editor", kind="editor.opened", workspace=str(workspace), ts=now - 60, data={"path": "a.py"}),
            Event(source="editor", kind="editor.opened", workspace="/elsewhere", ts=now - 30, data={"path": "b.py"}),
        ])


def test_version_and_help() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("companion ")
    for command in ("run", "watch", "events", "forget", "doctor"):
        helped = run_cli(command, "--help")
        assert helped.returncode == 0 and "usage: companion" in helped.stdout


def test_events_json_and_since(workspace: Path) -> None:
    seed(workspace)
    result = run_cli("events", str(workspace), "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["kind"] for r in rows] == ["shell.command", "editor.opened"]
    assert all(r["text"] and r["workspace"] == str(workspace) for r in rows)
    recent = run_cli("events", str(workspace), "--since", "10m", "--json")
    assert len(recent.stdout.splitlines()) == 1
    everywhere = run_cli("events", "--all-workspaces", "--json", cwd=workspace)
    assert len(everywhere.stdout.splitlines()) == 3
    human = run_cli("events", str(workspace))
    assert "`make`" in human.stdout or "make" in human.stdout


def test_bad_duration_is_a_clear_error(workspace: Path) -> None:
    result = run_cli("events", str(workspace), "--since", "soon")
    assert result.returncode == 2 and "cannot read duration" in result.stderr and "Traceback" not in result.stderr


def test_forget_since_and_all(workspace: Path) -> None:
    seed(workspace)
    result = run_cli("forget", str(workspace), "--since", "10m", "--json")
    assert json.loads(result.stdout) == {"events": 1, "proposals": 0}
    assert run_cli("forget", str(workspace), "--all").returncode == 0
    with Store() as store:
        assert [e.workspace for e in store.events()] == ["/elsewhere"]
    missing = run_cli("forget", str(workspace))
    assert missing.returncode == 2 and "--since" in missing.stderr


def test_bad_config_is_reported_by_every_command(workspace: Path) -> None:
    (workspace / ".companion.toml").write_text("[general]\nlevel = 3\n")
    result = run_cli("doctor", str(workspace), "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 1 and not report["ok"]
    config_check = next(c for c in report["checks"] if c["name"] == "config")
    assert "general.level" in config_check["detail"]
    run = run_cli("run", str(workspace))
    assert run.returncode == 2 and "unknown key general.level" in run.stderr


def test_doctor_on_a_good_setup(workspace: Path) -> None:
    result = run_cli("doctor", str(workspace), "--json")
    report = json.loads(result.stdout)
    names = {c["name"]: c for c in report["checks"]}
    assert names["store"]["ok"] and names["config"]["ok"] and names["default models"]["ok"]
    assert report["ok"], report


def test_run_on_a_missing_folder(tmp_path: Path) -> None:
    result = run_cli("run", str(tmp_path / "nope"))
    assert result.returncode == 2 and "is not a folder" in result.stderr


@pytest.mark.parametrize("command", [["events"], ["doctor"]])
def test_corrupt_store_is_a_clear_error(companion_home: Path, workspace: Path, command: list[str]) -> None:
    database = companion_home / "data" / "companion.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    database.write_bytes(b"garbage" * 1000)
    result = run_cli(*command, str(workspace))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "forget --all" in result.stderr + result.stdout


def test_watch_follows_a_running_daemon(daemon_factory, workspace: Path) -> None:
    import os
    import subprocess
    import sys

    from companion.client import connect

    daemon_factory(workspace)
    watcher = subprocess.Popen([sys.executable, "-m", "companion", "watch", str(workspace), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert watcher.stderr is not None and "following the daemon" in watcher.stderr.readline()
        with connect(workspace, start=False) as client:
            client.request("emit", wait=True, events=[{"source": "shell", "kind": "shell.command",
                                                       "data": {"command": "mysql -pHunter22 db", "exit_code": 1}}])
        assert watcher.stdout is not None
        line = json.loads(watcher.stdout.readline())
        assert line["kind"] == "shell.command" and "Hunter22" not in line["text"]
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)


def test_workspace_redaction_patterns_apply_in_the_daemon(daemon_factory, workspace: Path) -> None:
    from companion.client import connect

    (workspace / ".companion.toml").write_text('[redaction]\npatterns = ["PROJ-[0-9]{4}"]\n')
    daemon_factory(workspace)
    with connect(workspace, start=False) as client:
        client.request("emit", wait=True, events=[{"source": "editor", "kind": "editor.opened",
                                                   "data": {"path": "notes/PROJ-1234.md"}}])
    with Store() as store:
        [event] = store.events(workspace=str(workspace), kinds=["editor.opened"])
    assert event.data["path"] == "notes/[REDACTED:custom].md"
