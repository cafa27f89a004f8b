"""How clients reach a workspace's daemon, starting it in the background when none runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from companion import paths
from companion.ipc import Client, IpcError


def spawn_daemon(workspace: Path, extra_args: list[str] | None = None) -> subprocess.Popen[bytes]:
    """Start `companion run WORKSPACE` detached from this process (its own session, output to a log)."""
    log_file = open(paths.private_file(paths.logs_dir() / f"daemon-{paths.workspace_key(workspace)}.out"), "ab")
    command = [sys.executable, "-m", "companion", "run", str(workspace), "--quiet", *(extra_args or [])]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                            start_new_session=True, cwd="/", env=os.environ.copy())


def wait_for_socket(workspace: Path, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    socket_path = paths.socket_file(workspace)
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            log = paths.data_dir() / "logs" / f"daemon-{paths.workspace_key(workspace)}.out"
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise IpcError(f"the companion daemon exited at start (code {process.returncode}):\n{tail}")
        try:
            with Client(socket_path, timeout=2.0) as client:
                client.request("ping")
                return
        except IpcError:
            time.sleep(0.1)
    raise IpcError(f"the companion daemon for {workspace} did not start within {timeout:.0f} s; "
                   f"see {paths.data_dir() / 'logs'}")


def connect(workspace: str | os.PathLike[str], start: bool = True,
            on_message: Callable[[dict[str, Any]], None] | None = None,
            on_disconnect: Callable[[], None] | None = None, timeout: float = 30.0) -> Client:
    """A client of the workspace's daemon; starts the daemon first when `start` and none answers."""
    root = paths.workspace_root(workspace)
    socket_path = paths.socket_file(root)
    try:
        return Client(socket_path, on_message=on_message, on_disconnect=on_disconnect, timeout=timeout)
    except IpcError:
        if not start:
            raise IpcError(f"no companion daemon runs for {root}; start one with `companion run {root}`") from None
    process = spawn_daemon(root)
    wait_for_socket(root, process=process)
    return Client(socket_path, on_message=on_message, on_disconnect=on_disconnect, timeout=timeout)
