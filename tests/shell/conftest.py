"""Fixtures for shell capture tests: real interactive bash, zsh and fish with the companion hook."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

from companion.cli.shell_init import hook_script
from tests import programs
from tests.shell.pty_shell import PtyShell

SHELLS = ["bash", "zsh", "fish"]
COMPANION_SHELL = [sys.executable, "-m", "companion", "shell", "--"]  # the real `companion shell` in front
# the user's own set-up before the hook: history options that hide leading-space commands and repeats
PRELUDE = {
    "bash": "HISTCONTROL=ignoreboth\nHISTFILE=~/.bash_history\n",
    "zsh": "HISTFILE=~/.zsh_history\nSAVEHIST=1000\nHISTSIZE=1000\nsetopt histignorespace histignoredups\n",
    "fish": "",
}


def require(shell: str) -> None:
    programs.require(shell)  # skipped locally with one summary line; failed under CI=true


@pytest.fixture
def open_shell() -> Iterator[Callable[..., PtyShell]]:
    """Start an interactive shell with the hook loaded the way an rc file would load it."""
    opened: list[PtyShell] = []

    def start(shell: str, cwd: Path, before: str = "", rc: str | None = None, env: dict[str, str] | None = None,
              proxied: bool = False, timeout: float = 20.0) -> PtyShell:
        require(shell)
        text = rc if rc is not None else PRELUDE[shell] + before + "\n" + hook_script(shell)
        process = PtyShell(shell, text, Path(os.environ["HOME"]), cwd, env=env, timeout=timeout,
                           wrapper=COMPANION_SHELL if proxied else None)
        opened.append(process)
        return process

    yield start
    for process in opened:
        process.close()
