"""Programs the tests drive (real shells, editors, terminal multiplexers), and what to do without one.

On a developer's machine a test whose program is missing is skipped, and the run ends with ONE
summary line naming the Debian packages that would run them. With `CI=true` a missing program
fails the test instead, so CI can never skip them silently. Use `require("zsh")` in a test or a
fixture, or mark a test `@pytest.mark.requires_program("tmux")`.
"""

from __future__ import annotations

import os
import shutil

import pytest

# program -> the Debian package that installs it (README's "What the tests use" lists them too)
PACKAGES = {"bash": "bash", "zsh": "zsh", "fish": "fish", "git": "git", "tmux": "tmux", "nvim": "neovim",
            "setpriv": "util-linux", "setsid": "util-linux", "sqlite3": "sqlite3"}
skipped: dict[str, int] = {}  # missing program -> tests skipped for it in this run


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(program: str) -> str:
    """The program's path; skips the test (fails it under CI=true) when it is not installed."""
    path = shutil.which(program)
    if path is not None:
        return path
    package = PACKAGES.get(program, program)
    if in_ci():
        pytest.fail(f"{program} is not installed; CI must install the Debian package {package} (see .ci/run)")
    skipped[program] = skipped.get(program, 0) + 1
    pytest.skip(f"{program} is not installed (Debian package {package})")


def require_root(why: str) -> None:
    """For a test that acts as root (e.g. becomes a second user): skipped for anyone else, failed
    under CI=true, which runs the tests as root."""
    if os.geteuid() == 0:
        return
    if in_ci():
        pytest.fail(f"{why}; CI runs the tests as root, and here they run as uid {os.geteuid()}")
    pytest.skip(why)


def summary_line() -> str | None:
    """`skipped 21 tests: zsh, fish are not installed; to run them: sudo apt-get install zsh fish`."""
    if not skipped:
        return None
    programs = sorted(skipped)
    packages = sorted({PACKAGES.get(p, p) for p in programs})
    count = sum(skipped.values())
    verb = "is" if len(programs) == 1 else "are"
    return (f"skipped {count} test{'s' if count != 1 else ''}: {', '.join(programs)} {verb} not installed; "
            f"to run them: sudo apt-get install {' '.join(packages)}")
