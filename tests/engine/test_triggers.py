"""Which events wake the agent, with the data fields the watchers send (and missing ones)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from companion import paths
from companion.engine.context import focus_for, location_of
from companion.engine.triggers import TriggerRules, salient_reason
from companion.events import Event
from companion.redact import Redactor
from tests.conftest import wait_for


def ev(kind: str, **data: object) -> Event:
    return Event(source=kind.split(".")[0] if not kind.startswith("tests") else "tests", kind=kind, data=data)


@pytest.mark.parametrize("event, reason", [
    (ev("shell.command", command="make", exit_code=2), "failed_command"),
    (ev("shell.command", command="make", exit_code=0), None),
    (ev("shell.command", command="sleep 9", exit_code=130), None),  # Ctrl-C is not a failure
    (ev("shell.command", command="history only"), None),  # no exit code known
    (ev("tests.failed", tests=["test_a"]), "tests_failing"),
    (ev("tests.fixed", tests=["test_a"]), None),
    (ev("git.conflict", status="stopped", operation="merge"), "merge_conflict"),
    (ev("git.conflict", status="resolved"), None),
    (ev("git.branch", to="feature", dirty=True), "dirty_branch_switch"),
    (ev("git.branch", to="feature", dirty_summary={"dirty": True}), "dirty_branch_switch"),
    (ev("git.branch", to="feature", dirty=False), None),
    (ev("file.saved", path="app.py", todos_added=["TODO: x"]), "todo_added"),
    (ev("file.saved", path="sub/requirements-dev.txt"), "dependency_changed"),
    (ev("file.deleted", path="package.json"), "dependency_changed"),
    (ev("file.saved", path="app.py"), None),
    (ev("git.commit", message="x"), None),
    (ev("git.commit", message="x", detached=True), "detached_commit"),
])
def test_salient_events(event: Event, reason: str | None) -> None:
    assert salient_reason(event) == reason


def test_an_edit_burst_fires_once_after_the_pause() -> None:
    rules = TriggerRules(idle_s=10)
    for t in (0, 2, 4):
        assert rules.observe(ev("file.saved", path="a.py"), now=100 + t) is None
    assert rules.idle_due(now=110) is None
    trigger = rules.idle_due(now=114.5)
    assert trigger is not None and trigger.reason == "idle_after_edits" and trigger.event.data["path"] == "a.py"
    assert rules.idle_due(now=200) is None  # once per burst


def test_routine_triggers_are_off_by_default_and_conflict_saves_wake_the_rules() -> None:
    from companion.config import EngineConfig

    assert EngineConfig().todo_trigger is False and EngineConfig().idle_trigger is False
    rules = TriggerRules(idle_s=10, idle=False, todos=False)
    assert rules.observe(ev("file.saved", path="app.py", todos_added=["TODO: x"]), now=1) is None
    assert rules.idle_due(now=100) is None  # no idle trigger, however long the pause
    assert rules.observe(ev("git.conflict", status="stopped", files=["src/a.py", "b.md"]), now=2).reason == "merge_conflict"
    assert rules.observe(ev("file.saved", path="other.py"), now=3) is None
    assert rules.observe(ev("file.saved", path="src/a.py"), now=4).reason == "conflict_edited"
    assert rules.observe(ev("git.conflict", status="resolved", files=["src/a.py"]), now=5) is None
    assert rules.observe(ev("file.saved", path="src/a.py"), now=6) is None  # the conflict is over


def test_locations_from_tracebacks_and_paths(workspace: Path) -> None:
    (workspace / "pkg").mkdir()
    (workspace / "pkg" / "mod.py").write_text("".join(f"line{i}\n" for i in range(1, 41)))
    (workspace / ".env").write_text("TOKEN=abc\n")
    trace = 'Traceback:\n  File "/usr/lib/python3/x.py", line 3\n  File "pkg/mod.py", line 20, in f\nValueError'
    event = ev("shell.command", command="python -m pkg", exit_code=1, output=trace, cwd=str(workspace))
    assert location_of(event, workspace) == ("pkg/mod.py", 20)
    focus = focus_for(event, workspace, Redactor())
    assert focus.start_line == 12 and focus.lines[8] == "line20"
    assert location_of(ev("shell.command", exit_code=1, output="pkg/mod.py:7:3: E501"), workspace) == ("pkg/mod.py", 7)
    assert focus_for(ev("file.saved", path=".env"), workspace, Redactor()) is None  # secret files are never read
    assert location_of(ev("shell.command", exit_code=1, output='File "../../etc/passwd", line 1'), workspace) is None
    editor = Event(source="editor", kind="editor.focused", data={"uri": (workspace / "pkg" / "mod.py").as_uri(), "line": 5})
    assert location_of(editor, workspace) == ("pkg/mod.py", 5)


def test_sigterm_stops_a_daemon_with_the_engine_cleanly(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "r.json"
    script.write_text('["{}"]')
    monkeypatch.setenv("COMPANION_ENGINE_ENABLED", "true")
    monkeypatch.setenv("COMPANION_AGENT_BACKEND", "scripted")
    monkeypatch.setenv("COMPANION_AGENT_SCRIPT", str(script))
    process = subprocess.Popen([sys.executable, "-m", "companion", "run", str(repo), "--quiet"], env=os.environ.copy(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    socket_path = paths.socket_file(repo)
    wait_for(socket_path.exists, timeout=30)
    assert oct(socket_path.stat().st_mode & 0o777) == "0o600"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not socket_path.exists()  # the socket was closed and removed before the process exited
