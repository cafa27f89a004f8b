"""Sentences for shell and test events, and `companion shell-init`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from companion.events import Event
from companion.render import render
from companion.shell import spool
from tests import programs
from tests.conftest import run_cli
from tests.shell.conftest import SHELLS


def sentence(kind: str, **data) -> str:
    return render(Event(source="tests" if kind.startswith("tests") else "shell", kind=kind, data=data))


def test_shell_command_sentences():
    assert sentence("shell.command", command="pytest -x", dir="api", exit_code=1, duration_s=4.2) == \
        "The user ran `pytest -x` in `api/`; it failed (exit 1) after 4.2 s."
    assert sentence("shell.command", command="make", dir=".", exit_code=0, duration_s=125.0) == \
        "The user ran `make` in the workspace root; it succeeded after 2 min 5 s."
    assert sentence("shell.command", command="npm start", dir="web", exit_code=130, duration_s=30) == \
        "The user ran `npm start` in `web/`; it was interrupted (Ctrl-C) (exit 130) after 30 s."
    assert sentence("shell.command", command="ls", dir=None, exit_code=None, duration_s=None, origin="history") == \
        "The user ran `ls` (read from the shell history; its outcome is unknown)."
    assert sentence("shell.command", command="(exit 3)", dir="a/b", exit_code=3, duration_s=None) == \
        "The user ran `(exit 3)` in `a/b/`; it failed (exit 3)."


def test_tests_sentences():
    assert sentence("tests.failed", tests=["tests/test_api.py::test_login", "a", "b", "c", "d", "e"], failing=6) == \
        "Tests newly failing: `tests/test_api.py::test_login`, `a`, `b`, `c` and 2 more; 6 tests fail now."
    assert sentence("tests.fixed", tests=["t::x"], failing=0, runner="junit") == \
        "Tests fixed (junit): `t::x`; no test fails now."


@pytest.mark.parametrize("shell", SHELLS)
def test_shell_init_prints_a_script_the_shell_accepts(shell, tmp_path):
    programs.require(shell)
    result = run_cli("shell-init", shell)
    assert result.returncode == 0, result.stderr
    assert "@COMPANION_DATA@" not in result.stdout and "companion" in result.stdout
    script = tmp_path / f"hook.{shell}"
    script.write_text(result.stdout)
    check = {"bash": ["bash", "-n"], "zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}[shell]
    syntax = subprocess.run([*check, str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    info = json.loads(run_cli("shell-init", shell, "--json").stdout)
    assert info["shell"] == shell and info["script"] == result.stdout
    assert Path(info["spool"]).stat().st_mode & 0o777 == 0o700


def test_shell_init_rejects_other_shells():
    result = run_cli("shell-init", "tcsh")
    assert result.returncode == 2 and "invalid choice" in result.stderr


@pytest.mark.parametrize("shell", SHELLS)
def test_without_companion_home_the_hook_writes_to_the_default_data_folder(shell, workspace, open_shell, tmp_path, monkeypatch):
    data_home = tmp_path / "data home with 'quotes' and spaces"
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    monkeypatch.delenv("COMPANION_HOME")
    sh = open_shell(shell, workspace, env={"XDG_DATA_HOME": str(data_home)})
    sh.run("echo to-the-default-folder")
    sh.close()
    written = (data_home / "companion" / "spool" / spool.SPOOL_NAME).read_bytes()
    assert [r.command for r in spool.parse_lines(written) if isinstance(r, spool.CommandRecord)] == ["echo to-the-default-folder"]


def test_doctor_check_tells_whether_a_shell_loaded_the_hook(workspace, daemon_factory, open_shell):
    from companion.shell.checks import shell_hook
    from tests.conftest import wait_for

    before = shell_hook(workspace)
    assert not before.ok and not before.required and "shell-init" in before.detail
    daemon = daemon_factory(workspace)
    open_shell("zsh", workspace).run("true")
    wait_for(lambda: daemon.store.events(kinds=["shell.command"], workspace=str(workspace)))
    after = shell_hook(workspace)
    assert after.ok and "zsh" in after.detail
