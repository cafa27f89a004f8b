"""Shared helpers of the dashboard tests: waiting on a running app, reading its screen as text,
and a fixed, deterministic set of events and proposals for snapshots."""

from __future__ import annotations

import io
import time
from typing import Any, Callable

from rich.console import Console

from companion.daemon import event_payload
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


def sample_events(workspace: str = WORKSPACE) -> list[Event]:
    base = FIXED_NOW - 600
    rows = [
        ("companion", "companion.started", {"workspace": workspace, "watchers": ["file", "git", "shell"]}),
        ("file", "file.saved", {"path": "api/client.py", "lines": 120}),
        ("shell", "shell.command", {"command": "pytest -x tests/test_client.py", "cwd": "api", "exit_code": 1,
                                    "duration_s": 4.2, "output": "ImportError: cannot import name 'Client'"}),
        ("git", "git.commit", {"message": "Add retry to the client", "files": ["api/client.py"]}),
        ("editor", "editor.opened", {"path": "api/__init__.py"}),
        ("tests", "tests.failed", {"failed": 1, "passed": 41, "first": "test_client_retries"}),
        ("shell", "shell.command", {"command": "git status", "cwd": ".", "exit_code": 0, "duration_s": 0.1}),
    ]
    return [Event(source=s, kind=k, data=d, workspace=workspace, ts=base + 60 * i, id=f"ev{i:02d}")
            for i, (s, k, d) in enumerate(rows)]


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


def payloads(events: list[Event]) -> list[dict[str, Any]]:
    return [event_payload(e) for e in events]
