"""Sentences for events companion itself emits (watcher errors, start and stop)."""

from __future__ import annotations

from typing import Any, Mapping

from companion.render import code, renderer


@renderer("companion.error")
def _error(data: Mapping[str, Any]) -> str:
    where = f" for {code(data['path'])}" if data.get("path") else ""
    return f"The {data.get('watcher', 'companion')} watcher reported a problem{where}: {data.get('message', 'unknown error')}."


@renderer("companion.started")
def _started(data: Mapping[str, Any]) -> str:
    watchers = ", ".join(data.get("watchers", [])) or "no watchers"
    return f"Companion started watching {code(data.get('workspace', '.'))} with {watchers}."


@renderer("companion.stopped")
def _stopped(data: Mapping[str, Any]) -> str:
    return f"Companion stopped watching {code(data.get('workspace', '.'))}" + (
        f": {data['reason']}." if data.get("reason") else ".")


@renderer("companion.workspace_missing")
def _workspace_missing(data: Mapping[str, Any]) -> str:
    then = "waits for it to come back" if data.get("then") == "wait" else "stopped"
    return f"The workspace {code(data.get('workspace', '.'))} was deleted or moved away; companion {then}."


@renderer("companion.workspace_back")
def _workspace_back(data: Mapping[str, Any]) -> str:
    return f"The workspace {code(data.get('workspace', '.'))} is back; companion watches it again."


@renderer("companion.replayed")
def _replayed(data: Mapping[str, Any]) -> str:
    """An observation recorded earlier (its sentence), replayed by the learning harness
    (training/learning): the moments benchmark's export keeps sentences, not the raw events."""
    return str(data["sentence"])
