"""Drive a real interactive shell (bash, zsh, fish) through a pseudo-terminal, as a person would.

Typing a line into a pty makes the shell's line editor read it, add it to history and fire its
preexec/precmd hooks exactly as at a keyboard; a `-c` script or a pipe would not. Each prompt
prints a numbered marker (a counter bumped once per prompt by the harness's own prompt hook), so
`run(line)` returns when the shell shows a new prompt, even if the line editor redraws an old one.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
from pathlib import Path

MARK = re.compile(rb"<<ready-(\d+)>>")
ANSI = re.compile(r"\x1b\][^\x07]*\x07|\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


class ShellTimeout(AssertionError):
    pass


class PtyShell:
    """An interactive shell whose prompt is MARK; `run` types a line and waits for the next prompt."""

    def __init__(self, shell: str, rc_text: str, home: Path, cwd: Path, env: dict[str, str] | None = None,
                 timeout: float = 20.0, wrapper: list[str] | None = None) -> None:
        self.shell = shell
        self.timeout = timeout
        self.output = b""
        self.raw_seen = b""  # everything read since the last `raw_seen = b""`, escapes included
        self.prompts = 0
        home.mkdir(parents=True, exist_ok=True)
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("BASH_FUNC", "PROMPT_COMMAND"))}
        environ.update({"HOME": str(home), "TERM": "dumb", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
        environ.update(env or {})
        if shell == "bash":
            rc = home / ".bashrc"
            rc.write_text(rc_text + "\n__n=0; PROMPT_COMMAND+=$'\\n''__n=$((__n+1))'; PS1='<<ready-${__n}>>'; PS2=''\n")
            argv = ["bash", "--noprofile", "--rcfile", str(rc), "-i"]
        elif shell == "zsh":
            (home / ".zshrc").write_text(rc_text + "\nsetopt prompt_subst no_prompt_sp no_prompt_cr; typeset -gi __n=0; __bump() { __n+=1 }\n"
                                         "precmd_functions+=(__bump); PROMPT='<<ready-${__n}>>'; PROMPT2=''; RPROMPT=''\n")
            environ["ZDOTDIR"] = str(home)
            argv = ["zsh", "-i"]
        elif shell == "fish":
            config = home / ".config" / "fish"
            config.mkdir(parents=True, exist_ok=True)
            (config / "config.fish").write_text(rc_text + "\nset -g __n 0\n"
                                                "function __bump --on-event fish_prompt; set -g __n (math $__n + 1); end\n"
                                                "function fish_prompt; printf '<<ready-%s>>' $__n; end\n"
                                                "function fish_greeting; end\n")
            environ["XDG_CONFIG_HOME"] = str(home / ".config")
            environ["XDG_DATA_HOME"] = str(home / ".local" / "share")
            argv = ["fish", "-i"]
        else:
            raise ValueError(shell)
        # fork and exec in C (subprocess), not pty.fork(): the test process has threads (daemons),
        # and Python code between fork and exec could deadlock on a lock another thread held.
        # `setsid -c` gives the shell its own session with the pty as its controlling terminal.
        argv = [*(wrapper or []), *argv]  # e.g. `companion shell --` in front of the shell
        master, slave = os.openpty()
        self.process = subprocess.Popen(["setsid", "-c", *argv], stdin=slave, stdout=slave, stderr=slave,
                                        cwd=cwd, env=environ, close_fds=True)
        os.close(slave)
        self.fd = master
        self.pid = self.process.pid
        self.wait_prompt()

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
            raise ShellTimeout(f"{self.shell} exited; output so far:\n{self.output.decode(errors='replace')[-2000:]}")
        if not chunk:
            raise ShellTimeout(f"{self.shell} closed the terminal")
        self.output += chunk
        self.raw_seen += chunk
        return True

    def wait_prompt(self) -> str:
        """Wait until a new prompt marker appears; return what was printed before it."""
        deadline = time.monotonic() + self.timeout
        while True:
            for match in MARK.finditer(self.output):
                if int(match.group(1)) > self.prompts:
                    self.prompts = int(match.group(1))
                    text = ANSI.sub("", MARK.sub(b"", self.output[:match.start()]).decode(errors="replace"))
                    self.output = self.output[match.end():]
                    return text
            if not self._read(deadline):
                raise ShellTimeout(f"no prompt from {self.shell} within {self.timeout} s; output:\n"
                                   f"{self.output.decode(errors='replace')[-2000:]}")

    def run(self, line: str) -> str:
        """Type `line` and Enter, then wait for the next prompt."""
        os.write(self.fd, line.encode() + b"\r")
        return self.wait_prompt()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.write(self.fd, b"exit\r")
            except OSError:
                pass
            deadline = time.monotonic() + 5
            while self.process.poll() is None and time.monotonic() < deadline:
                try:
                    self._read(min(deadline, time.monotonic() + 0.1))
                except ShellTimeout:
                    break
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        try:
            os.close(self.fd)
        except OSError:
            pass

    def __enter__(self) -> "PtyShell":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
