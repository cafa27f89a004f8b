"""A newcomer's `make test` on a machine without zsh and fish (issue 13, item 7): locally those
tests are skipped with ONE summary line naming the packages; with CI=true they fail as before.
Runs a real pytest on the shell-init tests with a PATH from which zsh and fish are missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SELECTION = ["tests/shell/test_render_and_cli.py", "-k", "shell_init_prints_a_script"]


def _path_without(tmp_path: Path, *missing: str) -> str:
    """A PATH folder of links to every program on this PATH except `missing`."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not Path(directory).is_dir():
            continue
        for program in Path(directory).iterdir():
            if program.name in missing or (folder / program.name).exists():
                continue
            (folder / program.name).symlink_to(program)
    return str(folder)


def _pytest(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "COMPANION_HOME", "PYTEST_ADDOPTS")}
    env["PATH"] = _path_without(tmp_path / ("ci" if ci else "local"), "zsh", "fish")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SELECTION],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    (tmp_path / "ci").mkdir()
    (tmp_path / "local").mkdir()
    return tmp_path


def test_locally_missing_shells_are_skipped_with_one_line_naming_the_packages(scratch: Path) -> None:
    result = _pytest(scratch, ci=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "1 passed, 2 skipped" in output, output
    lines = [line for line in output.splitlines() if "not installed" in line]
    assert lines == ["skipped 2 tests: fish, zsh are not installed; to run them: sudo apt-get install fish zsh"], output


def test_under_ci_missing_shells_fail(scratch: Path) -> None:
    result = _pytest(scratch, ci=True)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "2 failed, 1 passed" in output, output
    assert "zsh is not installed; CI must install the Debian package zsh" in output
    assert "skipped" not in output
