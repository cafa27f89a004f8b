"""VS Code's terminal route: the extension's `companion/terminalCommand` notifications reach the
real `companion lsp` and become `shell.command` events (origin "vscode") with the output tail as
`evidence.output` and the failures of a pytest run in it as `evidence.failures`, redacted before
they are stored, and filtered like the shell hook's commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_lsp import LanguageClient

from companion.render import render
from companion.shell.attribution import CommandFilter
from companion.evidence.output import MAX_BYTES
from lsp_server import terminal
from tests.editors.conftest import until

SECRET = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def note(repo: Path, command: str, exit_code: int | None, tail: str = "", **fields: Any) -> dict[str, Any]:
    now = time.time()
    return {"command": command, "confidence": "high", "trusted": True, "exitCode": exit_code, "cwd": str(repo),
            "start": now - 2.5, "end": now, "terminal": "bash", "session": "vscode-4242",
            "output": {"tail": tail, "lines": tail.count("\n") + 1, "bytes": len(tail.encode()), "truncated": False},
            **fields}


@pytest.mark.parametrize("client", ["vscode"], indirect=True)
async def test_a_failed_terminal_command_becomes_one_shell_event_with_its_output(
        client: LanguageClient, daemon: Any, repo: Path) -> None:
    (repo / "src").mkdir()
    tail = f"Traceback (most recent call last):\nModuleNotFoundError: No module named 'pytomlpp'\ntoken={SECRET}"
    failing = note(repo, "python benchmark/run.py", 1, tail)
    client.protocol.notify(terminal.NOTIFICATION, failing)
    client.protocol.notify(terminal.NOTIFICATION, note(repo, "ls", 0, "a\nb", cwd=str(repo / "src")))
    client.protocol.notify(terminal.NOTIFICATION, note(repo, " secret-thing", 1, "x"))  # leading space: never recorded
    client.protocol.notify(terminal.NOTIFICATION, note(repo, "cd /", 0, "", cwd="/"))  # outside the workspace
    client.protocol.notify(terminal.NOTIFICATION, {"command": ["not", "text"], "output": 7})  # garbage: dropped
    client.protocol.notify(terminal.NOTIFICATION, failing)  # the same command again (a resend): stored once

    events = await until(lambda: (found := daemon.store.events(kinds=["shell.command"])) and len(found) >= 2 and found,
                         what="two shell.command events")
    time.sleep(0.5)
    events = daemon.store.events(kinds=["shell.command"])
    assert [e.data["command"] for e in events] == ["python benchmark/run.py", "ls"]
    failed, listed = events
    assert failed.data["origin"] == "vscode" and failed.source == "shell"
    assert failed.data["exit_code"] == 1 and failed.data["dir"] == "." and failed.data["duration_s"] == 2.5
    output = failed.data["evidence"]["output"]
    assert output["route"] == "vscode" and output["truncated"] is False and output["lines"] == 3
    assert "No module named 'pytomlpp'" in output["tail"]
    assert SECRET not in json.dumps(failed.to_dict()), "the output is redacted before it is stored"
    assert "evidence" not in listed.data, "a command that succeeded keeps no output (capture_output = failed)"
    assert listed.data["dir"] == "src"
    assert render(failed) == ("The user ran `python benchmark/run.py` in the workspace root; it failed (exit 1) after 2.5 s: "
                              "ModuleNotFoundError: No module named 'pytomlpp'."), "the output reaches the observation"


def test_the_server_bounds_and_checks_what_the_extension_sends(tmp_path: Path) -> None:
    commands = CommandFilter(tmp_path, ["^secret"])
    huge = "\n".join(f"line {i}" for i in range(1000))
    event = terminal.command_event(note(tmp_path, "make", 2, huge, exitCode=2.0), commands, "failed")
    assert event is not None
    output = event["data"]["evidence"]["output"]
    assert output["truncated"] is True and output["tail"].split("\n")[0] == "line 800"
    wide = terminal.command_event(note(tmp_path, "make", 2, "é" * 70000), commands, "all")
    assert wide is not None and len(wide["data"]["evidence"]["output"]["tail"].encode()) <= MAX_BYTES
    assert terminal.command_event(note(tmp_path, "secret deploy", 1, "x"), commands) is None
    assert terminal.command_event(note(tmp_path, "make", 1, "x"), commands, "off")["data"].get("evidence") is None
    assert terminal.command_event(note(tmp_path, "make test \n", 1, "x"), commands)["data"]["command"] == "make test"
    assert terminal.command_event(note(tmp_path, "make", 0, "ok"), commands, "all")["data"]["evidence"]["output"]["tail"] == "ok"
    odd = terminal.command_event({"command": "make", "exitCode": "one", "start": float("nan"), "end": "x",
                                  "output": {"tail": 5}}, commands, now=100.0)
    assert odd is not None and odd["data"]["exit_code"] is None and odd["ts"] == 100.0 and "evidence" not in odd["data"]


TESTS = """
class TestData:
    def test_valid(self):
        assert "\\t" == "\\n"


def test_more():
    value = {"key": 1}
    assert value["key"] == 2


def test_fine():
    pass
"""


def test_a_pytest_run_in_the_terminal_carries_its_failures_from_the_short_summary(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_data.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=yes", "tests"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 1 and "short test summary info" in run.stdout
    commands = CommandFilter(tmp_path, [])
    tail = run.stdout.replace("\n", "\r\n")  # as a terminal shows it, colours included
    event = terminal.command_event(note(tmp_path, "python -m pytest -q tests", 1, tail), commands)
    assert event is not None
    evidence = event["data"]["evidence"]
    assert evidence["failure_count"] == 2 and "short test summary info" in evidence["output"]["tail"]
    first, second = evidence["failures"]
    assert first["test"] == "tests/test_data.py::TestData::test_valid"
    assert first["message"].startswith("AssertionError: assert") and "\x1b[" not in first["message"] + first["traceback"]
    assert (first["path"], first["line"]) == ("tests/test_data.py", 4)
    assert "assert" in first["traceback"]
    assert (second["test"], second["path"], second["line"]) == ("tests/test_data.py::test_more", "tests/test_data.py", 9)
    assert "assert 1 == 2" in second["message"]
    passed = terminal.command_event(note(tmp_path, "python -m pytest -q tests", 0, "3 passed in 0.01s"), commands, "all")
    assert "failures" not in passed["data"]["evidence"]
