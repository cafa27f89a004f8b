"""`companion suggest`, `companion suggestions` and `companion accept|reject|snooze ID`.

All of them go through the workspace's daemon (started when none runs), so the engine, the TUI
and the editors see the same proposals and outcomes. Accepting an `edit` asks the daemon to apply
its patch and record the accept in one step (a patch that no longer applies is refused with the
reason, and the proposal stays open); a `run_command` is printed for the user to run, never run here.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from typing import Any

from companion.cli import CommandError
from companion.cli._common import add_workspace_argument, print_json, workspace_from
from companion.quickfix.why import why_lines
from companion.store import Store


def register(subparsers: argparse._SubParsersAction) -> None:
    suggest = subparsers.add_parser("suggest", help="run the agent and the gate on the latest events now")
    add_workspace_argument(suggest)
    suggest.add_argument("--once", action="store_true", help="one proposal now, then exit (default: also follow new ones)")
    suggest.add_argument("--json", action="store_true", help="print one JSON object")
    suggest.set_defaults(func=run_suggest)

    listing = subparsers.add_parser("suggestions", help="the proposal inbox")
    add_workspace_argument(listing)
    listing.add_argument("--all", action="store_true", help="also answered and gated-out proposals")
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(func=run_suggestions)

    for outcome, verb in (("accept", "accepted"), ("reject", "rejected"), ("snooze", "snoozed")):
        parser = subparsers.add_parser(outcome, help=f"answer a proposal: {verb}")
        parser.add_argument("id", help="the proposal id (a unique prefix is enough)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.set_defaults(func=run_outcome, outcome=verb)


def _connect(workspace: Any, timeout: float = 30.0) -> Any:
    from companion.client import connect

    return connect(workspace, start=True, timeout=timeout)


def describe(proposal: dict[str, Any]) -> str:
    """A proposal for humans: the task, its score, and the help itself."""
    score = "" if proposal.get("score") is None else f" (score {proposal['score']:.2f})"
    state = proposal.get("status", "")
    lines = [f"[{proposal['id']}] {proposal.get('task')}{score} — {state}"]
    operation = proposal.get("operation")
    response = (proposal.get("response") or "").rstrip()
    if operation == "run_command":
        lines.append(f"  command (not run; copy it to run it): {response}")
    elif operation == "open":
        lines.append(f"  open {proposal.get('path')}:{proposal.get('line') or 1}")
    elif operation == "edit":
        lines.append(f"  patch for {proposal.get('path')} (applied only if you accept):")
        lines.extend("    " + line for line in response.splitlines())
    elif response:
        lines.extend("  " + line for line in response.splitlines())
    why = why_lines(proposal.get("evidence"), proposal.get("rule"))
    if why:  # the evidence it rests on and the rule that fired
        lines.append("  why: " + why[0])
        lines.extend("       " + line for line in why[1:])
    return "\n".join(lines)


def run_suggest(args: argparse.Namespace) -> int:
    from companion.config import load_config

    root = workspace_from(args)
    config = load_config(root)
    if not config.engine.enabled:
        raise CommandError("the engine is off (engine.enabled = false); turn it on to get proposals")
    timeout = config.agent.timeout_s + 180.0
    client = _connect(root, timeout=timeout)
    try:
        try:
            reply = client.request("suggest", timeout=timeout)
        except Exception as exc:
            if "unknown operation 'suggest'" in str(exc):
                raise CommandError(f"the daemon for {root} runs without the engine (`companion run --no-engine`); "
                                   "restart it without that flag") from None
            raise
        result = {k: reply.get(k) for k in ("proposal", "note", "threshold", "seconds", "problem")}
        if args.json:
            print_json(result)
        elif reply.get("proposal"):
            print(describe(reply["proposal"]))
            if not reply["proposal"].get("surfaced"):
                print(f"  (kept back: {reply.get('note')})")
        else:
            print(f"no proposal: {reply.get('note') or 'the agent sees nothing to help with'}")
        if args.once:
            return 0
        return _follow(client, args.json)
    finally:
        client.close()


def _follow(client: Any, as_json: bool) -> int:
    """Print surfaced proposals as the engine makes them, until Ctrl-C."""
    import queue

    inbox: queue.Queue[dict[str, Any]] = queue.Queue()
    client.on_message = lambda message: inbox.put(message) if message.get("topic") == "proposal" else None
    client.request("subscribe", topics=["proposal"])
    print("following new proposals; Ctrl-C stops", file=sys.stderr)
    while client.connected:
        try:
            message = inbox.get(timeout=0.5)
        except queue.Empty:
            continue
        proposal = message.get("proposal") or {}
        if message.get("change") == "new" and proposal.get("surfaced"):
            print_json(proposal) if as_json else print(describe(proposal), flush=True)
    return 0


def run_suggestions(args: argparse.Namespace) -> int:
    root = workspace_from(args)
    statuses = None if args.all else ["open"]
    with Store() as store:
        proposals = store.proposals(workspace=str(root), statuses=statuses, surfaced=None if args.all else True,
                                    limit=args.limit)
    if args.json:
        print_json({"proposals": [p.to_dict() for p in proposals]})
        return 0
    if not proposals:
        print("no open proposals" if not args.all else "no proposals yet")
        return 0
    for proposal in proposals:
        when = datetime.fromtimestamp(proposal.ts).strftime("%H:%M")
        print(f"{when} " + describe(proposal.to_dict()))
    return 0


def run_outcome(args: argparse.Namespace) -> int:
    from companion.ipc import IpcError
    from companion.outcomes import ANSWERABLE

    with Store() as store:
        proposal = store.proposal(args.id)
    if proposal is None:
        raise CommandError(f"no proposal with id {args.id!r}; `companion suggestions --all` lists them")
    if proposal.status not in ANSWERABLE:
        raise CommandError(f"proposal {proposal.id} was already {proposal.status}")
    client = _connect(proposal.workspace)
    try:
        answer_s = max(0.0, time.time() - proposal.ts)
        try:  # an accepted edit is applied by the daemon in the same step, or refused with the reason
            reply = client.request("outcome", proposal_id=proposal.id, outcome=args.outcome, answer_s=answer_s,
                                   via="cli")
        except IpcError as exc:
            raise CommandError(str(exc)) from None
    finally:
        client.close()
    answered = reply["proposal"]
    if args.json:
        print_json({"proposal": answered, "applied": reply.get("applied")})
        return 0
    print(f"{args.outcome}: {answered.get('task')}")
    if args.outcome == "accepted":
        if answered.get("operation") == "run_command":
            print(f"run it yourself: {answered.get('response')}")
        elif answered.get("operation") == "edit":
            if not reply.get("applied"):  # a daemon that only records: say so, never leave it unsaid
                raise CommandError(f"the daemon recorded the accept but did not apply the patch to {answered.get('path')}")
            print(f"patched {reply['applied']}")
        elif answered.get("operation") == "open":
            print(f"{answered.get('path')}:{answered.get('line') or 1}")
        elif answered.get("response"):
            print(answered["response"])
    return 0
