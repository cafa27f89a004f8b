"""VS Code's terminal route: the extension's `companion/terminalCommand` notifications reach the
real `companion lsp` and become `shell.command` events (origin "vscode") with the output tail as
`evidence.output`, redacted before they are stored, and filtered like the shell hook's commands."""

from __future__ import annotations

import json
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
