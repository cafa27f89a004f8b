"""`companion watch [PATH]`: the live, redacted event stream, without the agent.

Attaches to the workspace's daemon when one runs; otherwise watches in this process (the
events are stored as usual, but no proposals are made).
"""

from __future__ import annotations

import argparse
import queue
import sys

from companion.cli import CommandError
from companion.cli._common import add_workspace_argument, format_event_line, print_json, workspace_from
from companion.daemon import AlreadyRunning, is_running, start_in_this_process
from companion.cli.run import attach_printer


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("watch", help="print the live, redacted event stream (no agent)")
    add_workspace_argument(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per event per line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = workspace_from(args)
    if is_running(root):
        return _follow_daemon(root, args.json)
    try:
        daemon = start_in_this_process(root, services=False, verbose=args.verbose)
    except AlreadyRunning:
        return _follow_daemon(root, args.json)
    attach_printer(daemon, args.json, quiet=False)
    print(f"watching {root}; Ctrl-C stops", file=sys.stderr)
    for note in daemon.notes:
        print(f"  note: {note}", file=sys.stderr)
    daemon.run_until_signal()
    return 0


def _follow_daemon(root, as_json: bool) -> int:
    from companion.client import connect

    messages: queue.Queue[dict | None] = queue.Queue()
    client = connect(root, start=False, on_message=messages.put, on_disconnect=lambda: messages.put(None))
    client.request("subscribe", topics=["event"])
    print(f"following the daemon of {root}; Ctrl-C stops", file=sys.stderr)
    try:
        while True:
            message = messages.get()
            if message is None:
                raise CommandError("the companion daemon stopped", code=1)
            if message.get("topic") == "event":
                payload = message["event"]
                print_json(payload) if as_json else print(format_event_line(payload), flush=True)
    finally:
        client.close()
