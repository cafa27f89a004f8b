"""`companion tui [PATH]`: the Textual dashboard, attached to the workspace's daemon (started if absent)."""

from __future__ import annotations

import argparse

from companion.cli._common import add_workspace_argument, workspace_from


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tui", help="the dashboard: live events, proposals, stats, models, settings")
    add_workspace_argument(parser)
    parser.add_argument("--no-start", action="store_true",
                        help="do not start a daemon when none runs (the dashboard waits for one)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = workspace_from(args)
    from companion.tui.app import CompanionApp

    CompanionApp(root, start_daemon=not args.no_start).run()
    return 0
