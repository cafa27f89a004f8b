"""A real interactive bash with the companion hook, typed into through a pseudo-terminal.

Typing a line into a pty makes bash's line editor read it, add it to history and fire the hook's
preexec/precmd exactly as at a keyboard; a `-c` script or a pipe would not, so the moments are
driven this way. Each prompt prints a numbered marker (a counter bumped once per prompt), so
`run(line)` returns when the shell shows its next prompt. `wrapper` puts a program between the
terminal and bash (`companion shell`, the pty proxy that keeps failed commands' output).
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Sequence

MARK = re.compile(rb"<<ready-(\d+)>>")
ANSI = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[=>]")
PROMPT_SETUP = "\n__n=0; PROMPT_COMMAND+=$'\\n''__n=$((__n+1))'; PS1='<<ready-${__n}>>'; PS2=''\n"


class ShellError(RuntimeError):
    """The shell exited, closed its terminal, or did not show a prompt in time."""


class CommandTimeout(ShellError):
    """A typed command did not finish in time; it was interrupted with Ctrl-C."""


class HookedBash:
    """An interactive bash whose rc file is `rc_text` (the hook) and whose prompt is MARK."""

    def __init__(self, rc_text: str, home: Path, cwd: Path, env: dict[str, str], timeout: float = 20.0,
                 wrapper: Sequence[str] = ()) -> None:
        self.timeout = timeout
        self.output = b""
        self.prompts = 0
        rc = home / ".bashrc"
        rc.write_text(rc_text + PROMPT_SETUP)
        environ = {k: v for k, v in env.items() if not k.startswith(("BASH_FUNC", "PROMPT_COMMAND"))}
        environ.update({"HOME": str(home), "TERM": "dumb", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
        argv = [*wrapper, "bash", "--noprofile", "--rcfile", str(rc), "-i"]
        # fork and exec in C (subprocess), not pty.fork(): the harness has threads, and Python code
        # between fork and exec could deadlock on a lock another thread held. `setsid -c` gives the
        # shell its own session (so one killpg ends everything it started) with the pty as its terminal.
        master, slave = os.openpty()
        try:
            self.process = subprocess.Popen(["setsid", "-c", *argv], stdin=slave, stdout=slave, stderr=slave,
                                            cwd=cwd, env=environ, close_fds=True)
        finally:
            os.close(slave)
        self.fd = master
        try:
            self.wait_prompt()
        except BaseException:
            self.close()
            raise

    def _read(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([self.fd], [], [], remaining)
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:
            raise ShellError(f"bash exited; output so far:\n{self.text(self.output)[-2000:]}") from None
        if not chunk:
            raise ShellError("bash closed its terminal")
        self.output += chunk
        return True

    @staticmethod
    def text(raw: bytes) -> str:
        return ANSI.sub("", MARK.sub(b"", raw).decode(errors="replace")).replace("\r", "")

    def wait_prompt(self, timeout: float | None = None) -> str:
        """Wait until a new prompt marker appears; return what was printed before it."""
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        while True:
            for match in MARK.finditer(self.output):
                if int(match.group(1)) > self.prompts:
                    self.prompts = int(match.group(1))
                    printed = self.text(self.output[:match.start()])
                    self.output = self.output[match.end():]
                    return printed
            if not self._read(deadline):
                raise ShellError(f"no prompt from bash within {wait:.0f} s; output:\n{self.text(self.output)[-2000:]}")

    def run(self, line: str, timeout: float | None = None) -> str:
        """Type `line` and Enter, then wait for the next prompt (Ctrl-C after `timeout`)."""
        os.write(self.fd, line.encode() + b"\r")
        try:
            return self.wait_prompt(timeout)
        except ShellError:
            if self.process.poll() is not None:
                raise
            os.write(self.fd, b"\x03")
            try:
                self.wait_prompt(5.0)
            except ShellError:
                pass
            raise CommandTimeout(f"`{line}` did not finish within {timeout or self.timeout:.0f} s") from None

    def close(self) -> None:
        """Exit the shell; kill its whole session if it does not go within 5 s."""
        if self.process.poll() is None:
            try:
                os.write(self.fd, b"exit\r")
            except OSError:
                pass
            deadline = time.monotonic() + 5
            while self.process.poll() is None and time.monotonic() < deadline:
                try:
                    self._read(min(deadline, time.monotonic() + 0.1))
                except ShellError:
                    break
        self.kill()
        try:
            os.close(self.fd)
        except OSError:
            pass

    def kill(self) -> None:
        """Kill the shell's session (everything it started); safe to call more than once."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass
