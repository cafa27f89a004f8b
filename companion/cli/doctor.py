"""`companion doctor`: is everything in place?"""

from __future__ import annotations

import argparse

from companion.cli._common import add_workspace_argument, print_json, workspace_from
from companion.doctor import run_checks


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("doctor", help="check the set-up (config, store, models, git, daemon)")
    add_workspace_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    results = run_checks(workspace_from(args))
    failed = [r for r in results if not r.ok and r.required]
    if args.json:
        print_json({"ok": not failed, "checks": [r.__dict__ for r in results]})
    else:
        for result in results:
            mark = '✓' if result.ok else ('✗' if result.required else '!')
            print(f"{mark} {result.name}: {result.detail}")
        print("all good" if not failed else f"{len(failed)} problem(s) found")
    return 1 if failed else 0
