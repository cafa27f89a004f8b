"""What the agent sees for one step: recent observations, feedback on earlier proposals, and the
lines of the file an event points at.

Observations come from the store (already redacted) rendered as ProactiveBench sentences; the
prompt builder later cuts them to the token budget. File lines are read fresh, never from a
secret file, and redacted before a model sees them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

from companion.agent.grounding import texts_in
from companion.agent.prompt import Feedback, FocusedFile
from companion.events import Event
from companion.redact import Redactor
from companion.render import observation, observation_time
from companion.store import Store

SKIP_KINDS = ("companion.started", "companion.stopped")
_TRACE_LOCATIONS = (
    re.compile(r'File "([^"]+)", line (\d+)'),  # Python tracebacks
    re.compile(r"(?:^|[\s(])([\w./\\-]+\.[A-Za-z0-9]{1,8}):(\d+)(?::\d+)?"),  # path:line[:col] (compilers, pytest, eslint)
)
TEXT_FIELDS = ("output", "output_tail", "stderr", "stdout", "error", "message", "summary", "failures", "details")


def recent_events(store: Store, workspace: str, limit: int = 40, until: float | None = None) -> list[Event]:
    events = store.events(workspace=workspace, limit=limit + 10, newest_first=True, until=until)
    kept = [e for e in events if e.kind not in SKIP_KINDS][:limit]
    kept.reverse()
    return kept


def observations_of(events: Iterable[Event]) -> list[dict[str, str]]:
    return [observation(e) for e in events]


def recent_feedback(store: Store, workspace: str, since: float, limit: int = 5) -> list[Feedback]:
    """Answered proposals of the recent past, oldest first, as the prompt's feedback lines."""
    answered = [(p, o) for p, o in store.outcomes(workspace=workspace, since=since) if p.task]
    return [Feedback(task=str(p.task), outcome=o.outcome, time=observation_time(o.ts)) for p, o in answered[-limit:]]


def location_of(event: Event, workspace: Path) -> tuple[str, int | None] | None:
    """(path relative to the workspace, line or None) named by an event, if the file exists."""
    data = event.data
    candidates: list[tuple[str, int | None]] = []
    uri = str(data.get("uri") or "")
    if not data.get("path") and uri.startswith("file://"):
        from urllib.parse import unquote, urlparse

        data = {**data, "path": unquote(urlparse(uri).path)}
    if data.get("path"):
        line = data.get("line")
        candidates.append((str(data["path"]), int(line) if isinstance(line, int) else None))
    for key in TEXT_FIELDS:
        for text in texts_in(data.get(key)):
            for pattern in _TRACE_LOCATIONS:
                candidates.extend((m.group(1), int(m.group(2))) for m in pattern.finditer(text))
    base = Path(str(data.get("cwd") or workspace))
    root = workspace.resolve()
    for path, line in reversed(candidates) if not data.get("path") else candidates:
        for folder in (base, root):
            target = (folder / path).resolve()
            if target.is_file() and (target == root or root in target.parents):
                return str(target.relative_to(root)), line
    return None


def _todo_line(lines: list[str], todos: Any) -> int | None:
    for todo in todos if isinstance(todos, (list, tuple)) else []:
        for number, text in enumerate(lines, start=1):
            if str(todo)[:40] and str(todo)[:40] in text:
                return number
    return None


def editor_focus_event(events: Iterable[Event]) -> Event | None:
    """The newest editor event naming a file (what the user is looking at), if any."""
    for event in reversed(list(events)):
        if event.source == "editor" and (event.data.get("path") or event.data.get("uri")):
            return event
    return None


def focus_for(event: Event | None, workspace: Path, redactor: Redactor, radius: int = 8,
              max_bytes: int = 200_000) -> FocusedFile | None:
    """The focused file's relevant lines (redacted) for an event that names a file."""
    if event is None:
        return None
    found = location_of(event, workspace)
    if found is None:
        return None
    relative, line = found
    target = workspace.resolve() / relative
    if redactor.is_secret_file(relative):
        return None
    try:
        if target.stat().st_size > max_bytes:
            return None
        raw = target.read_bytes()
    except OSError:
        return None
    if b"\0" in raw[:4096]:
        return None
    lines = raw.decode("utf-8", errors="replace").splitlines()
    if line is None:
        line = _todo_line(lines, event.data.get("todos_added")) or 1
    start = max(1, line - radius)
    chosen = lines[start - 1:line + radius]
    return FocusedFile(path=relative, start_line=start, lines=[redactor.redact(text) for text in chosen])
