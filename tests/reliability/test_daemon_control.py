"""`companion status [PATH] [--json] [--all]` and `companion stop [PATH] [--all]` against real
detached daemons, one with the engine on (scripted backend, shipped gate), one without
(issue 13, item 7)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from companion import paths
from companion.client import connect
from companion.store import Store
from tests.conftest import run_cli, wait_for

REPLY = {"purpose": "p", "thoughts": "t", "proactive_task": "Fix the failing import of Client",
         "response": "api/__init__.py does not export Client.", "operation": "explain"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (ProcessLookupError, OSError):
        return False


@pytest.fixture
def two_daemons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    engine_ws, plain_ws = (tmp_path / "with-engine").resolve(), (tmp_path / "plain").resolve()
    engine_ws.mkdir()
    plain_ws.mkdir()
    script = tmp_path / "script.json"
    script.write_text(json.dumps([REPLY]))
    monkeypatch.setenv("COMPANION_ENGINE_ENABLED", "true")
    monkeypatch.setenv("COMPANION_AGENT_BACKEND", "scripted")
    monkeypatch.setenv("COMPANION_AGENT_SCRIPT", str(script))
    monkeypatch.setenv("COMPANION_ENGINE_COOLDOWN_S", "0")
    assert run_cli("run", str(engine_ws), "--detach").returncode == 0
    assert run_cli("run", str(plain_ws), "--detach", "--no-engine").returncode == 0
    pids = []
    for ws in (engine_ws, plain_ws):
        with connect(ws, start=False) as client:
            pids.append(int(client.request("ping")["pid"]))
    yield engine_ws, plain_ws, pids
    for pid in pids:
        if _alive(pid):
            os.kill(pid, 15)
    wait_for(lambda: not any(_alive(p) for p in pids), timeout=20)


def test_status_gives_the_figures_and_stop_stops(two_daemons) -> None:
    engine_ws, plain_ws, (engine_pid, plain_pid) = two_daemons
    with connect(engine_ws, start=False) as client:
        client.request("emit", events=[{"source": "shell", "kind": "shell.command",
                                        "data": {"command": "python -m pytest", "cwd": str(engine_ws), "dir": ".",
                                                 "exit_code": 1, "duration_s": 1.5, "shell": "bash"}}])
        wait_for(lambda: client.request("status")["status"]["engine"]["steps"] >= 1, timeout=120)

    result = run_cli("status", str(engine_ws), "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["running"] and status["pid"] == engine_pid and status["uptime_s"] > 0
    assert "file" in status["watchers"] and status["engine"] == "on"
    assert status["triggers"] >= 1 and status["steps"] >= 1 and status["proposals"] >= 1
    assert {"surfaced", "held", "last_hold"} <= status.keys()
    assert status["backend"] == "scripted" and status["gate"]

    text = run_cli("status", str(engine_ws)).stdout
    assert f"pid {engine_pid}" in text and "triggers" in text and "backend: scripted" in text
    plain = json.loads(run_cli("status", str(plain_ws), "--json").stdout)
    assert plain["engine"] == "off" and plain["pid"] == plain_pid

    listing = run_cli("status", "--all")
    assert listing.returncode == 0
    assert str(engine_ws) in listing.stdout and str(plain_ws) in listing.stdout and "WORKSPACE" in listing.stdout
    listed = json.loads(run_cli("status", "--all", "--json").stdout)["daemons"]
    assert {d["pid"] for d in listed} == {engine_pid, plain_pid}

    stopped = run_cli("stop", str(engine_ws))
    assert stopped.returncode == 0 and f"pid {engine_pid}" in stopped.stdout, stopped.stderr
    assert not _alive(engine_pid) and not paths.socket_file(engine_ws).exists()
    with Store() as store:
        reasons = [e.data.get("reason") for e in store.events(workspace=str(engine_ws), kinds=["companion.stopped"])]
    assert reasons == ["shutdown requested"]
    gone = run_cli("status", str(engine_ws))
    assert gone.returncode == 3 and "no companion daemon runs" in gone.stderr
    assert run_cli("stop", str(engine_ws)).returncode == 3

    assert run_cli("stop", "--all").returncode == 0
    wait_for(lambda: not _alive(plain_pid), timeout=20)
    assert "no companion daemon is running" in run_cli("status", "--all").stdout
