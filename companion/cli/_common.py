"""Helpers shared by the command modules: workspace arguments, JSON output, event printing."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from companion import paths
from companion.durations import parse_duration

SOURCE_MARKS = {"file": "📄", "shell": "$", "git": "⎇", "editor": "✎", "companion": "●", "tests": "✔"}


class CommandError(RuntimeError):
    """A failure the user can act on; printed without a traceback, exit code 2 by default.

    It lives here rather than in companion/cli/__init__.py so that the command modules (shell.py
    above all, which `main` imports) do not import the package that imports them; the package
    re-exports it, so `from companion.cli import CommandError` keeps working.
    """

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def add_workspace_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default=".", help="the workspace folder (default: the current folder)")


def workspace_from(args: argparse.Namespace) -> Path:
    root = paths.workspace_root(getattr(args, "path", ".") or ".")
    if not root.is_dir():
        raise CommandError(f"{root} is not a folder")
    return root


def since_timestamp(text: str | None) -> float | None:
    """`--since 2h` as an epoch timestamp."""
    if not text:
        return None
    return time.time() - parse_duration(text)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def format_event_line(payload: dict[str, Any]) -> str:
    """`14:03:05 $ The user ran ...` — one line per event for humans."""
    stamp = datetime.fromtimestamp(float(payload["ts"])).strftime("%H:%M:%S")
    mark = SOURCE_MARKS.get(payload.get("source", ""), "·")
    return f"{stamp} {mark} {payload.get('text', payload.get('kind'))}"


# `companion train reward` exit code when the user has too few answers yet (not a failure).
NOT_ENOUGH_ANSWERS = 3
