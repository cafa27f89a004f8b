"""`companion run [PATH]`: the workspace's daemon, in the foreground or with --detach."""

from __future__ import annotations

import argparse
import sys

from companion.cli import CommandError
from companion.cli._common import add_workspace_argument, format_event_line, print_json, workspace_from
from companion.daemon import AlreadyRunning, Daemon, event_payload, is_running, start_in_this_process


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the daemon for a workspace (watchers, engine, store, socket)")
    add_workspace_argument(parser)
    parser.add_argument("--detach", action="store_true", help="start in the background and return")
    parser.add_argument("--json", action="store_true", help="print events as JSON lines")
    parser.add_argument("--quiet", action="store_true", help="print no events")
    parser.add_argument("--no-engine", action="store_true", help="watch and store only; no proposals")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = workspace_from(args)
    if args.detach:
        return _detach(root, args)
    try:
        daemon = start_in_this_process(root, services=not args.no_engine, verbose=args.verbose)
    except AlreadyRunning as exc:
        raise CommandError(str(exc)) from None
    attach_printer(daemon, args.json, args.quiet)
    if not args.quiet:
        print(f"companion is watching {root} ({', '.join(w.name for w in daemon.watchers) or 'no watchers'}); "
              "Ctrl-C stops it", file=sys.stderr)
        for note in daemon.notes:
            print(f"  note: {note}", file=sys.stderr)
    daemon.run_until_signal()
    return 0


def attach_printer(daemon: Daemon, as_json: bool, quiet: bool) -> None:
    """Print every stored event as it comes (what `make run` shows until the dashboard)."""
    if quiet:
        return

    def show(event: object) -> None:
        payload = event_payload(event)  # type: ignore[arg-type]
        try:
            if as_json:
                print_json(payload)
            else:
                print(format_event_line(payload), flush=True)
        except BrokenPipeError:
            daemon.stop("output closed")

    daemon.pipeline.subscribe(show)


def _detach(root, args: argparse.Namespace) -> int:
    from companion.client import spawn_daemon, wait_for_socket

    running = is_running(root)
    if running:
        print(f"companion is already running for {root} (pid {running['pid']})")
        return 0
    process = spawn_daemon(root, ["--no-engine"] if args.no_engine else None)
    wait_for_socket(root, process=process)
    print(f"companion is running for {root} in the background (pid {process.pid}); "
          f"`companion events` shows what it records")
    return 0
