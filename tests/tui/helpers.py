"""Shared helpers of the dashboard tests: waiting on a running app, reading its screen as text,
and a fixed, deterministic set of events and proposals for snapshots."""

from __future__ import annotations

import io
import time
from typing import Any, Callable

from rich.console import Console

from companion.events import Event
from companion.proposals import Proposal

FIXED_NOW = 1_795_000_000.0  # 2026-11-18 (UTC); snapshots never read the clock
WORKSPACE = "/home/dev/project"


async def until(pilot: Any, predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    """Let the app run until predicate() holds; fail with `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def screen_text(app: Any) -> str:
    """What the terminal shows now, as plain text (like tmux capture-pane)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
                      legacy_windows=False, safe_box=False, color_system="truecolor")
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def sample_events(workspace: str = WORKSPACE) -> list[dict[str, Any]]:
    """Event payloads as the daemon pushes them, with their sentences written out, so snapshots do
    not change when a source's renderer is improved."""
    base = FIXED_NOW - 600
    rows = [
        ("companion", "companion.started", "Companion started watching `/home/dev/project` with file, git and shell."),
        ("file", "file.saved", "The user saved `api/client.py` (120 lines, +14 −3)."),
        ("shell", "shell.command", "The user ran `pytest -x tests/test_client.py` in `api/`; it failed (exit 1) "
                                   "after 4.2 s: ImportError: cannot import name 'Client'."),
        ("git", "git.commit", "The user committed \"Add retry to the client\" (1 file)."),
        ("editor", "editor.opened", "The user opened `api/__init__.py` in the editor."),
        ("tests", "tests.failed", "1 test failed, 41 passed: `test_client_retries`."),
        ("shell", "shell.command", "The user ran `git status` in `.`; it succeeded in 0.1 s."),
    ]
    return [{**Event(source=s, kind=k, workspace=workspace, ts=base + 60 * i, id=f"ev{i:02d}").to_dict(), "text": t}
            for i, (s, k, t) in enumerate(rows)]


PATCH = """--- a/api/__init__.py
+++ b/api/__init__.py
@@ -1,2 +1,3 @@
 from .session import Session
+from .client import Client
 __all__ = ["Session"]
"""


def sample_proposals(workspace: str = WORKSPACE) -> list[Proposal]:
    return [
        Proposal(task="Export Client from api/__init__.py", response=PATCH, operation="edit", path="api/__init__.py",
                 line=2, score=0.82, surfaced=True, trigger="shell.command", event_ids=["ev02", "ev04"],
                 workspace=workspace, ts=FIXED_NOW - 90, id="p-edit-0001", purpose="fix the ImportError",
                 thoughts="the test imports Client from api, which does not export it"),
        Proposal(task="Re-run only the failing test", response="pytest -x tests/test_client.py::test_client_retries",
                 operation="run_command", score=0.64, surfaced=True, trigger="tests.failed", event_ids=["ev05"],
                 workspace=workspace, ts=FIXED_NOW - 300, id="p-cmd-0002"),
        Proposal(task="Explain why the retry test fails", response="The retry loop never sleeps, so the mock's "
                 "rate limit is hit on the second call.", operation="explain", score=0.55, surfaced=True,
                 trigger="tests.failed", event_ids=["ev05"], workspace=workspace, ts=FIXED_NOW - 1500,
                 id="p-exp-0003"),
    ]


def history_proposals(workspace: str = WORKSPACE) -> list[Proposal]:
    """Answered proposals over the last six days, for the stats screen."""
    statuses = ["accepted", "rejected", "accepted", "ignored", "accepted", "snoozed", "accepted", "rejected"]
    triggers = ["tests.failed", "shell.command", "git.conflict", "file.saved"]
    return [Proposal(task=f"earlier help {i}", response="…", operation="explain", score=0.5 + (i % 5) / 10,
                     surfaced=i % 7 != 6, status=statuses[i % len(statuses)] if i % 7 != 6 else "silent",
                     trigger=triggers[i % len(triggers)], workspace=workspace,
                     ts=FIXED_NOW - 86400 * 6 + i * 9 * 3600 + 600, id=f"h{i:03d}") for i in range(16)]
