"""`companion tui` as a person runs it: in a real terminal (tmux), with no daemon running yet.

The dashboard must start the workspace's daemon, show the live timeline and the inbox, open the
help with `?`, and quit with `q` (exit status 0). The screen is read with `tmux capture-pane`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from companion.client import connect
from companion.ipc import IpcError

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.requires_program("tmux")]


def tmux(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tmux", "-S", str(sock), *args], capture_output=True, text=True, timeout=30)


def screen(sock: Path) -> str:
    return tmux(sock, "capture-pane", "-p", "-t", "smoke").stdout


def wait_screen(sock: Path, needle: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen(sock)
        if needle in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never appeared on the screen; it shows:\n{text}")


def test_companion_tui_in_tmux(tmp_path: Path, repo: Path) -> None:
    sock = tmp_path / "tmux.sock"
    status_file = tmp_path / "exit-status"
    keep = ("COMPANION_HOME", "COMPANION_MODELS_DIR", "HOME", "GIT_CONFIG_GLOBAL", "PYTHONPATH", "PATH",
            "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TZ")
    assignments = " ".join(f"{name}={shlex.quote(os.environ[name])}" for name in keep if name in os.environ)
    command = (f"cd {shlex.quote(str(repo))} && env {assignments} TERM=xterm-256color "
               f"{shlex.quote(sys.executable)} -m companion tui; echo $? > {shlex.quote(str(status_file))}")
    started = tmux(sock, "-f", "/dev/null", "new-session", "-d", "-s", "smoke", "-x", "100", "-y", "30", command)
    assert started.returncode == 0, started.stderr
    try:
        text = wait_screen(sock, "daemon pid")  # it started the daemon and attached to it
        assert "Events" in text and "Proposals" in text
        wait_screen(sock, "Companion started watching")  # the live timeline shows the daemon's first event
        tmux(sock, "send-keys", "-t", "smoke", "?")
        help_text = wait_screen(sock, "companion — keys")
        assert "Accept" in help_text and "Snooze" in help_text
        tmux(sock, "send-keys", "-t", "smoke", "Escape")
        time.sleep(0.5)
        tmux(sock, "send-keys", "-t", "smoke", "q")
        deadline = time.monotonic() + 30
        while not status_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status_file.exists(), f"the dashboard did not quit on q; the screen shows:\n{screen(sock)}"
        assert status_file.read_text().strip() == "0"
    finally:
        tmux(sock, "kill-server")
        try:
            with connect(repo, start=False, timeout=5) as client:
                client.request("shutdown")
        except IpcError:
            pass
