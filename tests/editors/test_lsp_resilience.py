"""The language server never hangs the editor: it starts a daemon when none runs (one daemon for
several editors), reports a daemon that dies and reconnects when it is back, and exits cleanly
when its editor vanishes without a goodbye."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from lsprotocol import types

from companion import paths
from companion.daemon import is_running
from companion.ipc import Client
from tests.editors.conftest import SERVER, editor, offer, until


async def test_daemon_that_dies_is_reported_and_reconnected(daemon_factory: Callable[..., Any], daemon: Any,
                                                            repo: Path) -> None:
    (repo / "a.py").write_text("x = 1\n")
    uri = (repo / "a.py").as_uri()
    async with editor("vscode", repo, {"startDaemon": False}) as client:
        daemon.stop("killed by the test")
        await until(lambda: any(n["state"] == "disconnected" for n in client.status_notes), what="the loss reported",
                    details=lambda: [n["state"] for n in client.status_notes])
        assert any("went away" in m.message for m in client.messages)

        # an answer while no daemon runs fails at once with a message, it does not wait
        with pytest.raises(Exception, match="no open companion proposal|not connected"):
            await asyncio.wait_for(client.workspace_execute_command_async(types.ExecuteCommandParams(
                command="companion.accept", arguments=["anything"])), timeout=10)
        status = await asyncio.wait_for(client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="companion.status")), timeout=10)
        assert status["state"] in ("disconnected", "connecting") and status["daemon"] is None

        again = daemon_factory(repo, services=False)
        await until(lambda: client.status_notes[-1]["state"] == "connected", timeout=30, what="reconnected")
        proposal = offer(again, path="a.py", line=1)
        diagnostics = await until(lambda: client.diagnostics.get(uri), what="a diagnostic after reconnecting")
        assert diagnostics[0].code == proposal.id


async def test_proposal_waiting_at_connect_is_shown(daemon: Any, repo: Path) -> None:
    (repo / "a.py").write_text("x = 1\n")
    proposal = offer(daemon, path="a.py", line=1)
    async with editor("nvim", repo) as client:
        diagnostics = await until(lambda: client.diagnostics.get((repo / "a.py").as_uri()), what="a diagnostic")
        assert diagnostics[0].code == proposal.id


@pytest.mark.slow
async def test_starts_one_daemon_for_several_editors(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_ENGINE_ENABLED", "false")  # no model in this test's daemon
    assert is_running(repo) is None
    try:
        async with editor("vscode", repo) as first, editor("nvim", repo) as second:
            pids = {first.status_notes[-1]["daemon"]["pid"], second.status_notes[-1]["daemon"]["pid"]}
            assert len(pids) == 1 and os.getpid() not in pids
            assert is_running(repo)["pid"] in pids
    finally:
        if is_running(repo):
            with Client(paths.socket_file(repo)) as client:
                client.request("shutdown")
            deadline = time.monotonic() + 20
            while is_running(repo) and time.monotonic() < deadline:
                time.sleep(0.2)


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def _start_raw_server(repo: Path, parent_pid: int | None = None) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=os.environ.copy())
    assert server.stdin is not None
    server.stdin.write(_frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "processId": parent_pid, "rootUri": repo.as_uri(), "capabilities": {},
        "initializationOptions": {"startDaemon": False}}}))
    server.stdin.write(_frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    server.stdin.flush()
    return server


def _read_until_connected(server: subprocess.Popen[bytes]) -> None:
    """Read framed messages until the server says it is attached to the daemon."""
    assert server.stdout is not None
    while True:
        header = server.stdout.readline()
        assert header, "the server closed its output before attaching"
        if not header.startswith(b"Content-Length"):
            continue
        length = int(header.split(b":")[1])
        while server.stdout.readline().strip():
            pass  # other headers (Content-Type) up to the blank line
        message = json.loads(server.stdout.read(length))
        if message.get("method") == "companion/status" and message["params"]["state"] == "connected":
            return


def test_client_that_disconnects_abruptly(daemon: Any, repo: Path) -> None:
    server = _start_raw_server(repo)
    _read_until_connected(server)
    server.stdout.close()  # the editor crashed: no shutdown, no exit, pipes gone
    offer(daemon, path=None, task="Something to say to nobody")  # the server writes into the broken pipe
    time.sleep(0.5)
    server.stdin.close()
    code = server.wait(timeout=30)
    stderr = server.stderr.read().decode()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert is_running(repo)["pid"] == os.getpid()  # the daemon is untouched


def test_server_exits_when_its_editor_process_dies(daemon: Any, repo: Path) -> None:
    fake_editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    server = _start_raw_server(repo, parent_pid=fake_editor.pid)
    try:
        _read_until_connected(server)
        fake_editor.kill()
        fake_editor.wait()
        assert server.wait(timeout=30) == 0  # stdin is still open: only the processId watch ends it
    finally:
        if server.poll() is None:
            server.kill()
        server.stdin.close()
        server.stdout.close()
        server.stderr.close()


def test_nothing_but_the_protocol_on_stdout(daemon: Any, repo: Path) -> None:
    server = _start_raw_server(repo)
    _read_until_connected(server)
    server.stdin.write(_frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
    server.stdin.write(_frame({"jsonrpc": "2.0", "method": "exit"}))
    server.stdin.close()
    rest = server.stdout.read()
    assert server.wait(timeout=30) == 0
    server.stderr.close()
    while rest:  # every byte left is a well-formed LSP message
        header, _, rest = rest.partition(b"\r\n\r\n")
        assert header.startswith(b"Content-Length: "), header
        length = int(header.split(b"\r\n")[0].split(b": ")[1])
        json.loads(rest[:length])
        rest = rest[length:]


def test_tcp_mode_for_debugging(daemon: Any, repo: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([*SERVER, "--tcp", f"127.0.0.1:{port}"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline and server.poll() is None, server.stderr.read().decode()
                time.sleep(0.1)
        with connection:
            connection.sendall(_frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "processId": None, "rootUri": repo.as_uri(), "capabilities": {},
                "initializationOptions": {"startDaemon": False}}}))
            reader = connection.makefile("rb")
            while True:
                header = reader.readline()
                assert header, "the server closed the connection"
                if header.startswith(b"Content-Length"):
                    length = int(header.split(b":")[1])
                    while reader.readline().strip():
                        pass
                    message = json.loads(reader.read(length))
                    if message.get("id") == 1:
                        break
            assert message["result"]["serverInfo"]["name"] == "companion"
            assert "companion.accept" in message["result"]["capabilities"]["executeCommandProvider"]["commands"]
            connection.sendall(_frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
            connection.sendall(_frame({"jsonrpc": "2.0", "method": "exit"}))
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        server.stdout.close()
        server.stderr.close()


def test_broken_output_alone_ends_the_server(daemon: Any, repo: Path) -> None:
    server = _start_raw_server(repo)
    _read_until_connected(server)
    server.stdout.close()  # stdin stays open: only the failed write tells the server its editor is gone
    offer(daemon, path=None, task="Nobody reads this")
    try:
        assert server.wait(timeout=30) == 0
        assert "Traceback" not in server.stderr.read().decode()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        server.stdin.close()
        server.stderr.close()
