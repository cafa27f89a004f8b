"""The tmux route in a real tmux server: a hooked command that fails in a pane gets that pane's last
lines as its output; under `companion shell` inside tmux, the pty route takes it and tmux stands aside."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from companion.cli.shell_init import hook_script
from tests.conftest import wait_for
from tests.shell.helpers import by_command, shell_events


@pytest.fixture
def tmux(tmp_path: Path):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed; install the Debian package tmux")
    socket = tmp_path / "tmux.sock"
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env["TERM"] = "xterm-256color"

    def run(*args: str) -> str:
        result = subprocess.run(["tmux", "-S", str(socket), "-f", "/dev/null", *args],
                                capture_output=True, text=True, env=env, timeout=20)
        assert result.returncode == 0, result.stderr
        return result.stdout

    yield run
    subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True, env=env)


def start_bash(tmux, workspace: Path, proxied: bool = False) -> str:
    home = Path(os.environ["HOME"])
    rc = home / ".bashrc"
    rc.write_text("HISTCONTROL=ignoreboth\nPS1='ready> '\n" + hook_script("bash"))
    command = f"bash --noprofile --rcfile {rc} -i"
    if proxied:
        command = f"{sys.executable} -m companion shell -- {command}"
    pane = tmux("new-session", "-d", "-P", "-F", "#{pane_id}", "-x", "120", "-y", "40", "-c", str(workspace),
                f"env COMPANION_HOME={os.environ['COMPANION_HOME']} PYTHONPATH={os.environ.get('PYTHONPATH', '')} {command}").strip()
    wait_for(lambda: "ready>" in tmux("capture-pane", "-p", "-t", pane), timeout=20)
    return pane


def type_line(tmux, pane: str, line: str) -> None:
    tmux("send-keys", "-t", pane, "-l", line)
    tmux("send-keys", "-t", pane, "Enter")


def test_a_failed_command_in_a_tmux_pane_gets_the_panes_last_lines(tmux, workspace, daemon_factory):
    daemon = daemon_factory(workspace)
    pane = start_bash(tmux, workspace)
    type_line(tmux, pane, "echo earlier-output")
    type_line(tmux, pane, "echo about-to-fail; ls /no-such-dir-in-tmux")
    wait_for(lambda: len(shell_events(daemon.store, workspace)) >= 2, timeout=20)  # read soon after, as a user types
    type_line(tmux, pane, "echo worked")
    wait_for(lambda: "echo worked" in by_command(shell_events(daemon.store, workspace)), timeout=20)
    events = by_command(shell_events(daemon.store, workspace))
    output = events["echo about-to-fail; ls /no-such-dir-in-tmux"]["evidence"]["output"]
    assert output["route"] == "tmux"
    assert output["tail"].split("\n")[0] == "about-to-fail"
    assert "No such file or directory" in output["tail"]
    assert "earlier-output" not in output["tail"] and "ready>" not in output["tail"]
    assert "evidence" not in events["echo worked"]
    assert events["echo worked"]["origin"] == "hook"


def test_companion_shell_inside_tmux_works_and_the_tmux_route_stands_aside(tmux, workspace, daemon_factory):
    daemon = daemon_factory(workspace)
    pane = start_bash(tmux, workspace, proxied=True)
    type_line(tmux, pane, "echo from-the-proxy; false")
    wait_for(lambda: shell_events(daemon.store, workspace), timeout=20)
    event = shell_events(daemon.store, workspace)[0]
    assert event["origin"] == "pty"
    assert event["evidence"]["output"] == {**event["evidence"]["output"], "route": "pty", "tail": "from-the-proxy"}
