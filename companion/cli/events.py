"""`companion events`: query the stored events of a workspace."""

from __future__ import annotations

import argparse

from companion.cli._common import add_workspace_argument, format_event_line, print_json, since_timestamp, workspace_from
from companion.daemon import event_payload
from companion.store import Store


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("events", help="query stored events")
    add_workspace_argument(parser)
    parser.add_argument("--since", metavar="DUR", help="only events of the last DUR (e.g. 30m, 2h, 7d)")
    parser.add_argument("--source", action="append", help="only this source (file, shell, git, editor, tests, companion)")
    parser.add_argument("--kind", action="append", help="only this kind (e.g. file.saved)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many, the newest")
    parser.add_argument("--all-workspaces", action="store_true", help="events of every workspace")
    parser.add_argument("--json", action="store_true", help="one JSON object per event per line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    workspace = None if args.all_workspaces else str(workspace_from(args))
    with Store() as store:
        events = store.events(workspace=workspace, since=since_timestamp(args.since), sources=args.source,
                              kinds=args.kind, limit=args.limit, newest_first=True)
    for event in reversed(events):
        payload = event_payload(event)
        print_json(payload) if args.json else print(format_event_line(payload))
    return 0
