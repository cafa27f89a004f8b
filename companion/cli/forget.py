"""`companion forget`: delete stored data (events, proposals and their outcomes)."""

from __future__ import annotations

import argparse

from companion.cli import CommandError
from companion.cli._common import add_workspace_argument, print_json, since_timestamp, workspace_from
from companion.store import Store


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("forget", help="delete stored events and proposals")
    add_workspace_argument(parser)
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument("--since", metavar="DUR", help="delete what was recorded in the last DUR (e.g. 1h)")
    scope.add_argument("--all", action="store_true", help="delete everything recorded for this workspace")
    parser.add_argument("--all-workspaces", action="store_true", help="apply to every workspace, not only PATH")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    workspace = None if args.all_workspaces else str(workspace_from(args))
    since = since_timestamp(args.since)
    if not args.all and since is None:
        raise CommandError("say what to forget: --since DUR or --all")
    with Store() as store:
        counts = store.forget(workspace=workspace, since=since)
        store.vacuum()  # deleted rows must not linger in free pages or the WAL
    from companion.evidence import snapshots

    if snapshots.forget(workspace):  # copies of file contents (docs/evidence.md), whatever their age
        counts["snapshots"] = 1
    if args.json:
        print_json(counts)
    else:
        snapshots_text = " and the file snapshots" if counts.get("snapshots") else ""
        print(f"forgot {counts['events']} events, {counts['proposals']} proposals{snapshots_text} "
              f"{'in every workspace' if workspace is None else 'of ' + workspace}")
    return 0
