"""The daemon: lock, socket (0600), external events, subscriptions, outcomes, clean shutdown."""

from __future__ import annotations

import os
import queue
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from companion import paths
from companion.client import connect
from companion.daemon import AlreadyRunning, Daemon, is_running
from companion.ipc import Client, IpcError
from companion.proposals import Proposal
from companion.store import Store
from tests.conftest import wait_for


def test_socket_is_private_and_answers(daemon_factory, workspace: Path) -> None:
    daemon = daemon_factory(workspace)
    mode = stat.S_IMODE(os.stat(daemon.socket_path).st_mode)
    assert mode == 0o600
    reply = is_running(workspace)
    assert reply is not None and reply["pid"] == os.getpid() and reply["workspace"] == str(workspace)


def test_second_daemon_says_where_the_first_is(daemon_factory, workspace: Path) -> None:
    daemon_factory(workspace)
    second = Daemon(workspace)
    with pytest.raises(AlreadyRunning) as error:
        second.start()
    assert str(os.getpid()) in str(error.value) and str(paths.socket_file(workspace)) in str(error.value)
    second.stop()  # the refused daemon's stop leaves the running one alone
    assert paths.socket_file(workspace).exists() and is_running(workspace)["pid"] == os.getpid()


def test_external_events_are_redacted_stored_and_pushed(daemon_factory, workspace: Path) -> None:
    daemon_factory(workspace)
    pushed: queue.Queue[dict] = queue.Queue()
    with connect(workspace, start=False, on_message=pushed.put) as client:
        client.request("subscribe", topics=["event"])
        client.request("emit", wait=True, events=[{
            "source": "shell", "kind": "shell.command",
            "data": {"command": "curl -H 'Authorization: Bearer abcDEF123456ghiJKL' https://x", "exit_code": 7}}])
        message = pushed.get(timeout=5)
        while message["event"]["kind"] != "shell.command":
            message = pushed.get(timeout=5)
        assert "abcDEF123456ghiJKL" not in str(message) and "[REDACTED:" in message["event"]["text"]
        events = client.request("events", kinds=["shell.command"])["events"]
    assert [e["data"]["exit_code"] for e in events] == [7]
    with Store() as store:
        stored = store.events(workspace=str(workspace), kinds=["shell.command"])
    assert "abcDEF123456ghiJKL" not in stored[0].data["command"]


def test_bad_requests_get_errors_and_the_daemon_survives(daemon_factory, workspace: Path) -> None:
    daemon_factory(workspace)
    with connect(workspace, start=False) as client:
        with pytest.raises(IpcError, match="unknown operation"):
            client.request("explode")
        with pytest.raises(IpcError, match="emit takes events of sources"):
            client.request("emit", events=[{"source": "git", "kind": "git.commit"}])
        with pytest.raises(IpcError, match="no proposal"):
            client.request("outcome", proposal_id="nope", outcome="accepted")
        client._sock.sendall(b"this is not json\n")
        assert client.request("ping")["ok"]


def test_offer_and_outcome_round_trip(daemon_factory, workspace: Path) -> None:
    daemon = daemon_factory(workspace)
    pushed: queue.Queue[dict] = queue.Queue()
    with connect(workspace, start=False, on_message=pushed.put) as client:
        client.request("subscribe", topics=["proposal"])
        proposal = daemon.offer(Proposal(task="Explain why test_login fails", response="…", operation="explain",
                                         surfaced=True, score=0.9))
        assert pushed.get(timeout=5)["proposal"]["id"] == proposal.id
        listed = client.request("proposals", statuses=["open"])["proposals"]
        assert [p["id"] for p in listed] == [proposal.id]
        reply = client.request("outcome", proposal_id=proposal.id, outcome="rejected", via="cli")
        assert reply["proposal"]["status"] == "rejected"
        assert pushed.get(timeout=5)["change"] == "answered"
    with Store() as store:
        [(_, outcome)] = store.outcomes(workspace=str(workspace))
    assert outcome.outcome == "rejected" and outcome.via == "cli"


def test_missing_workspace_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        Daemon(tmp_path / "missing")


def start_cli_daemon(root: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", "companion", "run", str(root), "--json", "--no-engine"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    wait_for(lambda: is_running(root) or process.poll() is not None, timeout=60)
    assert process.poll() is None, process.stderr.read() if process.stderr else ""
    return process


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_and_releases_everything(workspace: Path, signum: int) -> None:
    process = start_cli_daemon(workspace)
    with Client(paths.socket_file(workspace)) as client:
        client.request("emit", wait=True, events=[{"source": "editor", "kind": "editor.opened", "data": {"path": "a.py"}}])
    process.send_signal(signum)
    assert process.wait(timeout=20) == 0
    assert not paths.socket_file(workspace).exists()
    with Store() as store:
        kinds = [e.kind for e in store.events(workspace=str(workspace))]
    assert kinds[0] == "companion.started" and "editor.opened" in kinds and kinds[-1] == "companion.stopped"
    daemon = Daemon(workspace, services=False)  # the lock was released
    daemon.start()
    daemon.stop()


def test_killed_daemon_leaves_no_obstacle(workspace: Path) -> None:
    """SIGKILL leaves a stale socket file and lock file; the next daemon starts anyway."""
    process = start_cli_daemon(workspace)
    process.kill()
    process.wait()
    assert paths.socket_file(workspace).exists()
    daemon = Daemon(workspace, services=False)
    daemon.start()
    try:
        assert is_running(workspace)["pid"] == os.getpid()
    finally:
        daemon.stop()


def test_detach_and_connect_start_the_daemon(workspace: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "companion", "run", str(workspace), "--detach", "--no-engine"],
                            capture_output=True, text=True, timeout=90, env=os.environ.copy())
    assert result.returncode == 0, result.stderr
    assert "in the background" in result.stdout
    running = is_running(workspace)
    assert running and running["pid"] != os.getpid()
    again = subprocess.run([sys.executable, "-m", "companion", "run", str(workspace), "--detach"],
                           capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert "already running" in again.stdout
    with Client(paths.socket_file(workspace)) as client:
        client.request("shutdown")
    wait_for(lambda: not is_running(workspace), timeout=20)


def test_client_connect_starts_a_daemon_when_none_runs(workspace: Path) -> None:
    with pytest.raises(IpcError, match="no companion daemon runs"):
        connect(workspace, start=False)
    with connect(workspace, start=True) as client:
        pid = client.request("ping")["pid"]
        assert pid != os.getpid()
        client.request("shutdown")
    wait_for(lambda: not is_running(workspace), timeout=20)
