"""A deleted or moved workspace (issue 13, item 6): the daemon never works inside it, notices it
go, says so once, and either stops cleanly (the default) or waits for it to come back
(`general.on_workspace_missing = "wait"`). Daemons started by `companion run .` and by `companion
watch .` from inside the workspace, and by a client's auto-start (`companion.client.connect`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from companion import paths
from companion.client import connect
from companion.store import Store
from tests.conftest import wait_for
from tests.reliability.processes import kill

MESSAGE = "was deleted or moved away"


def _start(route: str, workspace: Path, daemon_process) -> tuple[int, subprocess.Popen[bytes] | None]:
    """(pid, process when this test started it directly) of a daemon started by `route`."""
    if route in ("run .", "watch ."):
        process = daemon_process(workspace, cwd=workspace, path_argument=".", stderr=subprocess.PIPE,
                                 command=route.split()[0])
        return process.pid, process
    with connect(workspace) as client:  # auto-start, as the TUI and the language server do
        return int(client.request("ping")["pid"]), None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) has no cwd link
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _stored(workspace: Path, kind: str) -> list:
    with Store() as store:
        return store.events(workspace=str(workspace), kinds=[kind])


def _cwd_outside(pid: int, workspace: Path) -> None:
    cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    assert cwd != workspace and workspace not in cwd.parents, f"the daemon works inside the workspace ({cwd})"


@pytest.mark.parametrize("route", ["run .", "watch .", "auto-start"])
def test_a_deleted_workspace_stops_the_daemon_cleanly(route: str, tmp_path: Path, daemon_process) -> None:
    workspace = (tmp_path / "project").resolve()
    workspace.mkdir()
    (workspace / "main.py").write_text("print('hi')\n")
    pid, process = _start(route, workspace, daemon_process)
    _cwd_outside(pid, workspace)
    shutil.rmtree(workspace)
    wait_for(lambda: not _alive(pid), timeout=20)
    if process is not None:
        assert process.wait(10) == 0, "the daemon should exit cleanly"
        stderr = process.stderr.read().decode() if process.stderr else ""
        assert stderr.count(MESSAGE) == 1, stderr
    missing = _stored(workspace, "companion.workspace_missing")
    stopped = _stored(workspace, "companion.stopped")
    assert len(missing) == 1 and missing[0].data["then"] == "stop"
    assert len(stopped) == 1 and "deleted" in stopped[0].data["reason"]
    assert not paths.socket_file(workspace).exists(), "a cleanly stopped daemon removes its socket"


@pytest.mark.parametrize("route", ["run .", "watch .", "auto-start"])
def test_a_waiting_daemon_watches_the_workspace_again_when_it_comes_back(route: str, tmp_path: Path, daemon_process,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_GENERAL_ON_WORKSPACE_MISSING", "wait")
    workspace = (tmp_path / "project").resolve()
    workspace.mkdir()
    pid, process = _start(route, workspace, daemon_process)
    try:
        _cwd_outside(pid, workspace)
        moved = tmp_path / "moved-away"
        os.rename(workspace, moved)
        wait_for(lambda: _stored(workspace, "companion.workspace_missing"), timeout=20)
        (moved / "late.py").write_text("x = 1\n")  # the moved folder is no longer this workspace
        with connect(workspace, start=False) as client:
            notes = client.request("status")["status"]["notes"]
        assert sum(MESSAGE in note for note in notes) == 1, notes
        assert _alive(pid)

        workspace.mkdir()  # a folder at the path again: watched from scratch
        wait_for(lambda: _stored(workspace, "companion.workspace_back"), timeout=20)
        (workspace / "new.py").write_text("print('back')\n")
        saved = wait_for(lambda: [e for e in _stored(workspace, "file.saved") + _stored(workspace, "file.created")
                                  if e.data.get("path") == "new.py"], timeout=20)
        assert saved
        assert not [e for e in _stored(workspace, "file.saved") + _stored(workspace, "file.created")
                    if "late" in str(e.data.get("path"))]
        assert len(_stored(workspace, "companion.workspace_missing")) == 1
    finally:
        if process is None:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
            wait_for(lambda: not _alive(pid), timeout=20)
        else:
            kill(process, 15)
