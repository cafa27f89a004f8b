"""`companion status [PATH] [--json] [--all]` and `companion stop [PATH] [--all]`: see and stop daemons.

A detached daemon (`companion run --detach`, or one a client started) has no terminal; these
commands reach it over its socket. Every daemon of this user leaves a lock file in the runtime
folder naming its workspace, pid and socket, so `--all` finds them all, like `ollama ps`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from companion import paths
from companion.cli import CommandError
from companion.cli._common import add_workspace_argument, print_json, workspace_from
from companion.ipc import Client, IpcError
from companion.processes import alive

NOT_RUNNING = 3  # like `systemctl status`: the command worked, no daemon runs


def register(subparsers: argparse._SubParsersAction) -> None:
    status = subparsers.add_parser("status", help="the workspace's daemon: pid, uptime, watchers, engine counts")
    add_workspace_argument(status)
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.add_argument("--all", action="store_true", help="every workspace's daemon, one line each")
    status.set_defaults(func=run_status)
    stop = subparsers.add_parser("stop", help="stop the workspace's daemon (it finishes writing first)")
    add_workspace_argument(stop)
    stop.add_argument("--all", action="store_true", help="stop every workspace's daemon")
    stop.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for it to exit (default 15)")
    stop.set_defaults(func=run_stop)


# -- finding daemons ------------------------------------------------------------------------
def running_daemons() -> list[dict[str, Any]]:
    """The status of every daemon that answers on a socket named by a lock file."""
    found = []
    for lock in sorted(paths.runtime_dir().glob("*.lock")):
        try:
            info = json.loads(lock.read_text() or "{}")
        except (OSError, ValueError):
            continue
        socket = info.get("socket")
        if not socket or not Path(socket).exists():
            continue
        status = _status_at(Path(socket))
        if status is not None:
            found.append(status)
    return found


def _status_at(socket_path: Path) -> dict[str, Any] | None:
    try:
        with Client(socket_path, timeout=5.0) as client:
            return client.request("status")["status"]
    except IpcError:
        return None


# -- status ---------------------------------------------------------------------------------
def run_status(args: argparse.Namespace) -> int:
    if args.all:
        daemons = running_daemons()
        if args.json:
            print_json({"daemons": [summary(d) for d in daemons]})
        else:
            print(table(daemons) if daemons else "no companion daemon is running")
        return 0
    root = workspace_from(args)
    status = _status_at(paths.socket_file(root))
    if status is None:
        if args.json:
            print_json({"running": False, "workspace": str(root)})
        else:
            print(f"no companion daemon runs for {root}; `companion run {root} --detach` starts one", file=sys.stderr)
        return NOT_RUNNING
    if args.json:
        print_json({"running": True, **summary(status), "status": status})
    else:
        print(describe(status))
    return 0


def summary(status: dict[str, Any]) -> dict[str, Any]:
    """The figures `status` promises, flat: pid, uptime, watchers, engine counts, backend, gate."""
    engine = status.get("engine")
    gate = status.get("gate") or {}
    agent = status.get("agent") or {}
    counts = {key: engine.get(key, 0) for key in ("triggers", "steps", "proposals", "surfaced", "held")} if engine else {}
    return {"workspace": status.get("workspace"), "pid": status.get("pid"), "version": status.get("version"),
            "uptime_s": round(float(status.get("uptime_s") or 0.0), 1), "watchers": status.get("watchers", []),
            "engine": "on" if engine is not None else "off", **counts,
            "last_hold": engine.get("last_hold") if engine else None,
            "backend": agent.get("backend") if engine else None, "model": agent.get("model") if engine else None,
            "gate": gate.get("kind") if engine else None, "gate_threshold": gate.get("threshold"),
            "interruption_level": gate.get("level"), "notes": status.get("notes", []),
            "restart_needed": (status.get("settings") or {}).get("restart_needed", []),
            "settings_error": (status.get("settings") or {}).get("error"),
            "socket": status.get("socket"), "database": status.get("database")}


def describe(status: dict[str, Any]) -> str:
    facts = summary(status)
    lines = [f"companion {facts['version']} is running for {facts['workspace']}",
             f"  pid {facts['pid']}, up {duration(facts['uptime_s'])}",
             f"  watchers: {', '.join(facts['watchers']) or 'none'}"]
    if facts["engine"] == "off":
        lines.append("  engine: off (`companion run --no-engine` or engine.enabled = false)")
    else:
        hold = f" (last: {facts['last_hold']})" if facts["last_hold"] else ""
        lines.append(f"  engine: {facts['triggers']} triggers, {facts['steps']} steps, {facts['proposals']} proposals, "
                     f"{facts['surfaced']} surfaced, {facts['held']} held{hold}")
        model = f" ({facts['model']})" if facts["model"] else ""
        threshold = (f", threshold {facts['gate_threshold']:.2f} at level {facts['interruption_level']}"
                     if isinstance(facts["gate_threshold"], (int, float)) else "")
        lines.append(f"  backend: {facts['backend']}{model}; gate: {facts['gate']}{threshold}")
    lines.append(f"  socket {facts['socket']}, database {facts['database']}")
    lines += [f"  note: {note}" for note in facts["notes"]]
    if facts["restart_needed"]:  # live settings (companion/services/settings.py) took the rest at once
        lines.append(f"  settings changed that need a restart: {', '.join(facts['restart_needed'])}")
    if facts["settings_error"]:
        lines.append(f"  config not reloaded: {facts['settings_error']}")
    return "\n".join(lines)


def table(daemons: list[dict[str, Any]]) -> str:
    rows = [("WORKSPACE", "PID", "UPTIME", "WATCHERS", "PROPOSALS", "BACKEND", "GATE")]
    for status in daemons:
        facts = summary(status)
        proposals = f"{facts['surfaced']}/{facts['proposals']}" if facts["engine"] == "on" else "off"
        rows.append((str(facts["workspace"]), str(facts["pid"]), duration(facts["uptime_s"]),
                     ",".join(facts["watchers"]) or "-", proposals, facts["backend"] or "-", facts["gate"] or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


# -- stop -----------------------------------------------------------------------------------
def run_stop(args: argparse.Namespace) -> int:
    if args.all:
        daemons = running_daemons()
        for status in daemons:
            stop_daemon(Path(status["socket"]), str(status["workspace"]), args.timeout)
        print(f"stopped {len(daemons)} companion daemon{'s' if len(daemons) != 1 else ''}")
        return 0
    root = workspace_from(args)
    socket_path = paths.socket_file(root)
    if _status_at(socket_path) is None:
        print(f"no companion daemon runs for {root}", file=sys.stderr)
        return NOT_RUNNING
    stop_daemon(socket_path, str(root), args.timeout)
    return 0


def stop_daemon(socket_path: Path, workspace: str, timeout: float) -> None:
    """Ask the daemon to shut down (it stores what it holds first), then wait for its process to go."""
    try:
        with Client(socket_path, timeout=5.0) as client:
            pid = int(client.request("ping")["pid"])
            client.request("shutdown")
    except IpcError as exc:
        raise CommandError(f"could not ask the daemon of {workspace} to stop: {exc}") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            print(f"stopped the companion daemon of {workspace} (pid {pid})")
            return
        time.sleep(0.1)
    raise CommandError(f"the daemon of {workspace} (pid {pid}) did not exit within {timeout:g} s; "
                       f"`kill {pid}` stops it (SIGTERM is a clean stop too)")
