"""`companion pause DUR` and `companion resume`: no proposals for a while.

The pause is kept in the store (the workspace's state), so it holds across daemon restarts and
whether or not a daemon runs right now; the engine reads it before every proposal.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from companion.cli import CommandError
from companion.cli._common import add_workspace_argument, print_json, workspace_from
from companion.config import load_config
from companion.durations import parse_duration
from companion.engine.budget import InterruptionBudget
from companion.store import Store


def register(subparsers: argparse._SubParsersAction) -> None:
    pause = subparsers.add_parser("pause", help="no proposals for a while (e.g. 30m, 2h)")
    pause.add_argument("duration", help="how long: 30m, 2h, 1h30m …")
    add_workspace_argument(pause)
    pause.add_argument("--json", action="store_true", help="print one JSON object")
    pause.set_defaults(func=run_pause)
    resume = subparsers.add_parser("resume", help="end a pause")
    add_workspace_argument(resume)
    resume.add_argument("--json", action="store_true", help="print one JSON object")
    resume.set_defaults(func=run_resume)


def _budget(args: argparse.Namespace, store: Store) -> InterruptionBudget:
    root = workspace_from(args)
    return InterruptionBudget(store, str(root), load_config(root).engine)


def run_pause(args: argparse.Namespace) -> int:
    try:
        seconds = parse_duration(args.duration)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if seconds <= 0:
        raise CommandError("pause needs a positive duration, e.g. 30m")
    with Store() as store:
        until = _budget(args, store).pause(seconds)
    if args.json:
        print_json({"paused_until": until})
    else:
        print(f"no proposals until {datetime.fromtimestamp(until).strftime('%H:%M')}; `companion resume` ends the pause")
    return 0


def run_resume(args: argparse.Namespace) -> int:
    with Store() as store:
        _budget(args, store).resume()
    print_json({"paused_until": None}) if args.json else print("proposals resumed")
    return 0
