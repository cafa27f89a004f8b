"""`companion eval learning [--persona NAME] [--moments-export FILE] [--json]`: the learning curve
of the gate for simulated users (training/learning). Prints, per persona, precision/recall/F1 of
the personal gate on that user's future moments after 0, 10, 25, 50, 100 answers against the base
gate, for the memory alone, the retrained heads alone and both; how many rejections silence a
kind of help; how many answers it takes to follow a change of mind. Without --moments-export the
moments personas answer the stream shipped in benchmarks/data/ (a source checkout)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from companion.cli import CommandError
from companion.cli._common import print_json


def register(subparsers: Any) -> None:
    from training.learning.personas import PERSONAS

    parser = subparsers.add_parser("learning", help="how fast the gate learns a simulated user's preferences",
                                   description=__doc__)
    parser.add_argument("--persona", action="append", choices=sorted(PERSONAS), metavar="NAME",
                        help=f"one of {', '.join(PERSONAS)} (repeat; default: all)")
    parser.add_argument("--moments-export", type=Path, metavar="FILE",
                        help="the moments benchmark's --export (the stream the moments personas answer; default: "
                             "benchmarks/data/learning-stream.jsonl when running from a source checkout)")
    parser.add_argument("--seed", type=int, default=0, help="splits moments into past and future, orders the answers")
    parser.add_argument("--checkpoints", default="0,10,25,50,100", help="answers after which the gate is judged")
    parser.add_argument("--level", type=int, default=3, help="interruption level whose threshold decides (default 3)")
    parser.add_argument("--budget", type=float, default=1800.0, metavar="S",
                        help="seconds for the whole run; retraining past it is skipped and said so (default 1800)")
    parser.add_argument("--no-retrain", action="store_true", help="the memory only (no retraining of the heads)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from training.learning.personas import PERSONAS
    from training.learning.replay import LearningConfig
    from training.learning.run import goals, run_personas
    from training.learning.stream import StreamError, default_moments_export

    try:
        checkpoints = tuple(sorted({int(x) for x in args.checkpoints.split(",") if x.strip()}))
    except ValueError:
        raise CommandError(f"--checkpoints must be comma-separated numbers, got {args.checkpoints!r}") from None
    if not checkpoints or min(checkpoints) < 0:
        raise CommandError("--checkpoints needs at least one number >= 0")
    if args.level not in range(1, 6):
        raise CommandError("--level must be 1 to 5")
    names = args.persona or list(PERSONAS)
    cfg = LearningConfig(checkpoints=checkpoints, level=args.level, seed=args.seed, retrain=not args.no_retrain,
                         budget_s=args.budget)
    try:
        result = run_personas(names, cfg, default_moments_export(args.moments_export), progress=True)
    except StreamError as exc:
        raise CommandError(str(exc)) from None
    result["goals"] = goals(result)
    if args.json:
        print_json(result)
        return 0
    print_report(result)
    return 0


def print_report(result: dict[str, Any]) -> None:
    for name, why in result.get("skipped", {}).items():
        print(f"{name}: skipped — {why}")
    for name, persona in result["personas"].items():
        print(f"\n{name}: {persona['says']}")
        if persona.get("status"):
            print(f"  {persona['status']}")
            continue
        print(f"  {persona['past_candidates']} candidates answered from, {persona['future_candidates']} future "
              f"({persona['future_welcome']} welcome)")
        print("  answers   base F1   memory P/R/F1        heads P/R/F1         both P/R/F1")
        for p in persona["curve"]:
            cells = [f"{p[m]['precision']:.2f}/{p[m]['recall']:.2f}/{p[m]['f1']:.2f}" if m in p else "  —  "
                     for m in ("memory", "heads", "both")]
            why = p.get("status") or p.get("heads_status")
            note = f"  ({why})" if why else ""
            print(f"  {p['answers']:>7}   {p['base_f1']:.2f}      {cells[0]:<20} {cells[1]:<20} {cells[2]}{note}")
        print("  " + quiet_line(persona))
        print("  " + follows_line(persona))
    print(f"\n{result['elapsed_s']} s")


def quiet_line(persona: dict[str, Any]) -> str:
    """The quiet figure in words; a 0 from an older result is the base gate's doing, not learning."""
    kind, quiet, status = persona.get("quiet_kind"), persona.get("quiet_after_rejections"), persona.get("quiet_status")
    if status is None and quiet == 0:
        status = "not measured: the base gate already holds it back"
    if status:
        return f"quiet after rejections: {status}" + (f" ('{kind}')" if kind else "")
    if kind is None:
        return "quiet after rejections: not measured"
    return f"'{kind}' goes quiet after " + (f"{quiet} rejections" if quiet is not None else "more than 10 rejections")


def follows_line(persona: dict[str, Any]) -> str:
    kind, follows, status = persona.get("changed_kind"), persona.get("follows_change_within"), persona.get("follows_status")
    if status or kind is None:
        return f"change of mind: {status or 'not measured'}" + (f" ('{kind}')" if kind else "")
    return f"a change of mind on '{kind}' is followed " + (f"within {follows} answers" if follows is not None
                                                           else "not within 20 answers")
