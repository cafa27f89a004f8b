"""Real daemon processes for the reliability tests: started as a user starts them, killed as a
crash kills them. Every process is in its own session so a test can kill it and all it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from companion.client import wait_for_socket

REPO = Path(__file__).resolve().parents[2]


def env() -> dict[str, str]:
    """The test's environment (its COMPANION_HOME), with this checkout first on the import path."""
    values = os.environ.copy()
    values["PYTHONPATH"] = os.pathsep.join([str(REPO), values.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return values


def start_daemon(workspace: Path, *args: str, cwd: Path | None = None, path_argument: str | None = None,
                 stderr: int | None = subprocess.DEVNULL, command: str = "run") -> subprocess.Popen[bytes]:
    """`python -m companion run WORKSPACE --quiet ARGS` (WORKSPACE written as `path_argument`, e.g. "."
    with `cwd` the workspace), answered on its socket before returning. `command="watch"` starts
    `companion watch WORKSPACE ARGS` instead, which runs a daemon of its own (without the engine)
    when none runs; the events it prints are dropped."""
    argument = path_argument or str(workspace)
    quiet = ["--quiet"] if command == "run" else []
    process = subprocess.Popen([sys.executable, "-m", "companion", command, argument, *quiet, *args],
                               cwd=str(cwd or REPO), env=env(), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        wait_for_socket(workspace, timeout=60, process=process)
    except BaseException:
        kill(process)
        raise
    return process


def kill(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Send `sig` to the process's whole session and reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(20)
