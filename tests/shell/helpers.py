"""Small helpers shared by the shell tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from companion.shell import spool
from companion.store import Store
from tests.conftest import wait_for


def spool_records(kind: type = spool.CommandRecord) -> list[Any]:
    directory = spool.spool_dir()
    records: list[Any] = []
    for path in spool.files(directory):
        if path.exists():
            records.extend(r for r in spool.parse_lines(path.read_bytes()) if isinstance(r, kind))
    return records


def shell_events(store: Store, workspace: Path) -> list[dict[str, Any]]:
    return [dict(e.to_dict()["data"], ts=e.ts, id=e.id)
            for e in store.events(workspace=str(workspace), kinds=["shell.command"])]


def wait_for_commands(store: Store, workspace: Path, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    wait_for(lambda: len(shell_events(store, workspace)) >= count, timeout=timeout)
    return shell_events(store, workspace)


def by_command(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["command"]: e for e in events}
