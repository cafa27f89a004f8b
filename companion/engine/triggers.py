"""Which events wake the agent. Most events do not: the model costs CPU and attention.

Salient events call it soon: a command that failed, tests newly failing, a merge conflict, a
save of a file that was in conflict, a branch switch with a dirty tree, a commit on a detached
HEAD, a dependency file changed. Routine moments stay silent: passing runs, clean commits and
edits do not wake it. A new TODO/FIXME in a save (`engine.todo_trigger`) and a pause after a burst
of edits (`engine.idle_trigger`, `engine.idle_s`) call it only when switched on: on the moments
benchmark they gave generic help. Field names follow the watchers but every check tolerates
missing data (an event without `exit_code` is not a failure).
"""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass
from typing import Any, Mapping

from companion.events import Event

DEPENDENCY_FILES = ("requirements*.txt", "pyproject.toml", "setup.py", "setup.cfg", "Pipfile", "environment.yml",
                    "package.json", "Cargo.toml", "go.mod", "Gemfile", "pom.xml", "build.gradle", "build.gradle.kts",
                    "composer.json", "*.csproj", "CMakeLists.txt", "Makefile")
EDIT_KINDS = ("file.saved", "file.created", "file.deleted", "file.moved")
INTERRUPTED_EXIT_CODES = (130, 143)  # Ctrl-C and SIGTERM: the user stopped it, nothing failed


@dataclass(frozen=True)
class Trigger:
    """Why the agent is called, and the event that caused it."""

    # failed_command | tests_failing | merge_conflict | conflict_edited | dirty_branch_switch | detached_commit
    # | todo_added | dependency_changed | idle_after_edits | manual
    reason: str
    event: Event | None = None


def _exit_code(data: Mapping[str, Any]) -> int | None:
    for key in ("exit_code", "status", "returncode"):
        value = data.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            return int(value)
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)
    return None


def _path(data: Mapping[str, Any]) -> str:
    return str(data.get("path") or data.get("dest_path") or data.get("src_path") or "")


def is_dependency_file(path: str) -> bool:
    name = posixpath.basename(path.replace("\\", "/"))
    return any(fnmatch.fnmatch(name, pattern) for pattern in DEPENDENCY_FILES)


def salient_reason(event: Event, todos: bool = True) -> str | None:
    """The trigger reason of an event that deserves the agent's attention now, or None."""
    data = event.data
    kind = event.kind
    if kind == "shell.command":
        code = _exit_code(data)
        return "failed_command" if code not in (None, 0) and code not in INTERRUPTED_EXIT_CODES else None
    if kind == "tests.failed":
        return "tests_failing"
    if kind == "git.conflict":
        return None if str(data.get("status", "")) in ("resolved", "finished") else "merge_conflict"
    if kind in ("git.branch", "git.checkout"):
        dirty = data.get("dirty")
        if dirty is None and isinstance(data.get("dirty_summary"), Mapping):
            dirty = data["dirty_summary"].get("dirty")
        return "dirty_branch_switch" if dirty else None
    if kind == "git.commit" and data.get("detached"):
        return "detached_commit"
    if kind in ("file.saved", "file.created"):
        if todos and data.get("todos_added"):
            return "todo_added"
        if is_dependency_file(_path(data)):
            return "dependency_changed"
    if kind in ("file.deleted", "file.moved") and is_dependency_file(_path(data)):
        return "dependency_changed"
    return None


def is_edit(event: Event) -> bool:
    return event.kind in EDIT_KINDS or (event.source == "editor" and event.kind in ("editor.edited", "editor.saved", "editor.changed"))


class TriggerRules:
    """Feed every event to `observe`; call `idle_due` periodically for the end of an edit burst."""

    def __init__(self, idle_s: float, idle: bool = True, todos: bool = True) -> None:
        self.idle_s = idle_s if idle else 0.0
        self.todos = todos
        self._conflicted: set[str] = set()  # files of the conflict in progress (git.conflict "stopped")
        self._burst_last: float | None = None  # time of the newest edit of an unhandled burst
        self._burst_event: Event | None = None
        self._burst_size = 0

    def observe(self, event: Event, now: float) -> Trigger | None:
        reason = salient_reason(event, self.todos)
        if event.kind == "git.conflict":
            files = event.data.get("files")
            stopped = reason is not None and isinstance(files, (list, tuple))
            self._conflicted = {str(f).replace("\\", "/") for f in files} if stopped else set()
        elif reason is None and event.kind in ("file.saved", "editor.saved") and self._conflicted:
            path = _path(event.data).replace("\\", "/")
            if any(path == f or path.endswith("/" + f) for f in self._conflicted):
                reason = "conflict_edited"
        if reason is not None:
            self.clear_burst()  # the salient call sees the same recent edits
            return Trigger(reason, event)
        if is_edit(event):
            self._burst_last = now
            self._burst_event = event
            self._burst_size += 1
        return None

    def idle_due(self, now: float) -> Trigger | None:
        if self._burst_last is None or self.idle_s <= 0 or now - self._burst_last < self.idle_s:
            return None
        trigger = Trigger("idle_after_edits", self._burst_event)
        self.clear_burst()
        return trigger

    def clear_burst(self) -> None:
        self._burst_last, self._burst_event, self._burst_size = None, None, 0

    @property
    def pending_burst(self) -> int:
        return self._burst_size
