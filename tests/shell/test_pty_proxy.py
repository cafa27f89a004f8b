"""`companion shell`, the real pty proxy, in front of real interactive bash, zsh and fish: what a
failed command printed reaches the stored event, and the terminal behaves as without the proxy
(raw mode, Ctrl-C, Ctrl-Z and fg, resizes, the exit status, a shell that dies)."""

from __future__ import annotations

import fcntl
import os
import random
import struct
import sys
import termios
import time

import pytest

from companion.shell import spool
from tests.conftest import wait_for
from tests.shell.conftest import SHELLS
from tests.shell.helpers import by_command, shell_events, spool_records

RAW_PROGRAM = r"""
import os, sys, termios, tty
fd = sys.stdin.fileno()
saved = termios.tcgetattr(fd)
tty.setraw(fd)
os.write(1, b"RAW-READY\r\n")
got = b""
while not got.endswith(b"q"):
    got += os.read(fd, 1)
termios.tcsetattr(fd, termios.TCSADRAIN, saved)
print("GOT", got.hex())
"""


def read_until(sh, needle: bytes, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while needle not in sh.output:
        if not sh._read(deadline):
            raise AssertionError(f"{needle!r} not seen; output: {sh.output[-500:]!r}")


def per_command_files() -> list[str]:
    """Per-command files holding anything (a shell keeps one empty report file ready for its next pytest run)."""
    return [p.name for p in spool.spool_dir().iterdir()
            if p.name.startswith(("out-", "pytest-", ".out-")) and p.stat().st_size]


@pytest.mark.parametrize("shell", SHELLS)
def test_a_failed_commands_output_reaches_its_event_and_a_good_ones_does_not(shell, workspace, daemon_factory, open_shell):
    daemon = daemon_factory(workspace)
    sh = open_shell(shell, workspace, proxied=True)
    shown = sh.run("echo first-line; printf '\\033[31mcoloured\\033[0m\\n'; ls /no-such-place-here")
    assert "coloured" in shown and "/no-such-place-here" in shown  # the terminal still gets everything
    sh.run("echo all-is-well")
    sh.run(" echo secret-with-a-leading-space; false")
    sh.run("echo done")
    hooked = lambda: [e for e in shell_events(daemon.store, workspace) if e["origin"] != "history"]  # noqa: E731
    # (a history file read before the daemon saw the shell's hello line may add copies: not this route)
    wait_for(lambda: "echo done" in by_command(hooked()), timeout=15)
    events = by_command(hooked())
    failed = events["echo first-line; printf '\\033[31mcoloured\\033[0m\\n'; ls /no-such-place-here"]
    assert failed["exit_code"] != 0 and failed["origin"] == "pty"
    output = failed["evidence"]["output"]
    assert output["route"] == "pty" and output["truncated"] is False
    assert output["tail"].split("\n")[0] == "first-line"
    assert "coloured" in output["tail"] and "\x1b" not in output["tail"]
    assert "No such file or directory" in output["tail"]
    assert output["lines"] == 3
    assert "output" not in events["echo all-is-well"].get("evidence", {})
    assert not any("leading-space" in command for command in events)
    assert per_command_files() == []  # read, then deleted


@pytest.mark.parametrize("shell", SHELLS)
def test_raw_mode_programs_get_every_byte_and_ctrl_c_and_job_control_reach_the_shell(shell, workspace, open_shell, tmp_path):
    program = tmp_path / "raw.py"
    program.write_text(RAW_PROGRAM)
    sh = open_shell(shell, workspace, proxied=True)
    os.write(sh.fd, f"{sys.executable} {program}\r".encode())
    read_until(sh, b"RAW-READY")
    os.write(sh.fd, b"\x03\x1a\x1b[Ax\x7fq")  # Ctrl-C, Ctrl-Z, an arrow key, a backspace: bytes, not signals
    assert "GOT 031a1b5b41787f71" in sh.wait_prompt()
    # cooked mode again: Ctrl-C interrupts the foreground job
    os.write(sh.fd, b"sleep 30\r")
    time.sleep(0.5)
    started = time.monotonic()
    os.write(sh.fd, b"\x03")
    sh.wait_prompt()
    assert time.monotonic() - started < 10
    # Ctrl-Z stops it, fg brings it back, Ctrl-C ends it
    os.write(sh.fd, b"sleep 30\r")
    time.sleep(0.5)
    os.write(sh.fd, b"\x1a")
    sh.wait_prompt()
    assert "sleep" in sh.run("jobs").lower()
    os.write(sh.fd, b"fg\r")
    time.sleep(0.5)
    os.write(sh.fd, b"\x03")
    sh.wait_prompt()
    assert "sleep" not in sh.run("jobs")
    assert "proxy-still-works" in sh.run("echo proxy-still-works")


def test_resizes_reach_the_shell_and_a_storm_of_them_leaves_the_last_size(workspace, open_shell):
    sh = open_shell("bash", workspace, proxied=True)
    fcntl.ioctl(sh.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    time.sleep(0.2)
    assert "40 120" in sh.run("stty size")
    for n in range(300):
        fcntl.ioctl(sh.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 20 + n % 30, 80 + n % 50, 0, 0))
    fcntl.ioctl(sh.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    time.sleep(0.3)
    assert "33 101" in sh.run("stty size")


@pytest.mark.parametrize("shell", SHELLS)
def test_the_shells_exit_status_is_the_proxys(shell, workspace, open_shell):
    sh = open_shell(shell, workspace, proxied=True)
    os.write(sh.fd, b"exit 7\r")
    assert sh.process.wait(15) == 7


def test_a_shell_that_dies_ends_the_proxy_with_its_signal(workspace, open_shell):
    sh = open_shell("bash", workspace, proxied=True)
    os.write(sh.fd, b"kill -9 $$\r")
    assert sh.process.wait(15) == 128 + 9


def test_a_companion_shell_inside_another_is_refused_and_the_outer_one_goes_on(workspace, open_shell):
    sh = open_shell("bash", workspace, proxied=True)
    shown = sh.run(f"{sys.executable} -m companion shell; echo status=$?")
    assert "already runs under companion shell" in shown and "status=1" in shown
    assert "still-here" in sh.run("echo still-here")


def test_huge_binary_output_is_bounded_and_the_command_is_still_recorded(workspace, daemon_factory, open_shell, tmp_path):
    # Seeded bytes, not /dev/urandom: random output may open an escape sequence that swallows the
    # last line, and the test must pass or fail the same way every time.
    noise = tmp_path / "noise.bin"
    noise.write_bytes(random.Random(1).randbytes(600000))
    daemon = daemon_factory(workspace)
    sh = open_shell("bash", workspace, proxied=True, timeout=60)
    sh.run(f"cat {noise}; printf '\\nlast words\\n'; false")
    wait_for(lambda: shell_events(daemon.store, workspace), timeout=20)
    event = shell_events(daemon.store, workspace)[0]
    output = event["evidence"]["output"]
    assert output["truncated"] is True and output["bytes"] >= 600000
    assert len(output["tail"].encode()) <= 64 * 1024 and len(output["tail"].split("\n")) <= 200
    assert output["tail"].endswith("last words")
    assert per_command_files() == []


def test_capture_output_all_keeps_good_commands_too_and_off_keeps_nothing(workspace, daemon_factory, open_shell, tmp_path):
    (workspace / ".companion.toml").write_text('[shell]\ncapture_output = "all"\n')
    quiet = (tmp_path / "quiet").resolve()
    quiet.mkdir()
    (quiet / ".companion.toml").write_text('[shell]\ncapture_output = "off"\n')
    daemon = daemon_factory(workspace)
    other = daemon_factory(quiet)
    sh = open_shell("bash", workspace, proxied=True)
    sh.run("echo kept-although-it-worked")
    sh.run(f"cd {quiet}")
    sh.run("echo not-kept; false")
    wait_for(lambda: shell_events(daemon.store, workspace) and shell_events(other.store, quiet), timeout=15)
    assert shell_events(daemon.store, workspace)[0]["evidence"]["output"]["tail"] == "kept-although-it-worked"
    event = by_command(shell_events(other.store, quiet))["echo not-kept; false"]
    assert "output" not in event.get("evidence", {})
    wait_for(lambda: per_command_files() == [], timeout=5)


def test_a_terminal_started_from_inside_is_not_taken_for_the_proxys_own(workspace, open_shell):
    """A new window or tmux pane inherits COMPANION_PTY and COMPANION_PTY_TTY, not the terminal."""
    sh = open_shell("bash", workspace, env={"COMPANION_PTY": "12345", "COMPANION_PTY_TTY": "/dev/null"})
    shown = sh.run(f"{sys.executable} -m companion shell -- sh -c 'echo inner-proxy-ran'; echo status=$?")
    assert "inner-proxy-ran" in shown and "status=0" in shown
    sh.run("false")
    records = [r for r in spool_records() if r.command == "false"]
    assert records and "pty" not in (records[0].flags or {})
