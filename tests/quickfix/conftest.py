"""Quick-fix fixtures: real commands run in tmp folders, their real output made into the trigger
event the way the shell hook and the capture route describe it (the evidence contract)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from companion.events import Event, thaw
from companion.quickfix import Candidate, Moment, RuleBook

PYTHON = sys.executable
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_TERMINAL_PROMPT": "0", "GIT_EDITOR": "true"}


def sh(cwd: Path, command: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run a real shell command (bash) the way a user would, output captured."""
    env = {**os.environ, **GIT_ENV, "HOME": str(cwd)}
    done = subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, env=env, timeout=60)
    if check:
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    return done


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    sh(path, "git init -q -b main . && git config user.name t && git config user.email t@example.com "
             "&& git config commit.gpgsign false", check=True)
    return path


def command_event(workspace: Path, command: str, cwd: Path | None = None, **evidence: Any) -> Event:
    """Run `command` for real and describe it as a shell.command event with its output tail."""
    cwd = cwd or workspace
    done = sh(cwd, command)
    output = (done.stdout + done.stderr)
    data: dict[str, Any] = {"command": command, "cwd": str(cwd), "exit_code": done.returncode, "duration_s": 0.1,
                            "evidence": {"output": {"tail": output[-64_000:], "lines": output.count("\n"),
                                                    "bytes": len(output), "truncated": False, "route": "pty"},
                                         **evidence}}
    return Event(source="shell", kind="shell.command", data=data, workspace=str(workspace))


def with_evidence(event: Event, **more: Any) -> Event:
    """The same event with more evidence (failures, suspects) added, as the capture/changes helpers do."""
    data = thaw(event.data)
    data.setdefault("evidence", {}).update(more)
    return Event(source=event.source, kind=event.kind, data=data, workspace=event.workspace, ts=event.ts, id=event.id)


def candidates(workspace: Path, event: Event, reason: str = "failed_command",
               recent: list[Event] | None = None) -> list[Candidate]:
    return RuleBook().candidates(Moment(reason, event, workspace, recent=recent or []))


def by_rule(found: list[Candidate], rule_id: str) -> list[Candidate]:
    return [c for c in found if c.rule == rule_id]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


def hook_event(workspace: Path, command: str, cwd: Path | None = None) -> Event:
    """Run `command` for real and record it as the plain shell hook does: exit code, no output."""
    cwd = cwd or workspace
    done = sh(cwd, command)
    return Event(source="shell", kind="shell.command", workspace=str(workspace),
                 data={"command": command, "cwd": str(cwd), "exit_code": done.returncode, "duration_s": 0.1,
                       "origin": "hook"})
