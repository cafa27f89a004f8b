"""`companion eval reward`: score a gate on reward data.

`eval reward --data FILE.jsonl` scores a gate on ProactiveBench's reward format the way the
paper's `reward_model_scoring.py` does (agreement per category, Accuracy, Precision, Recall, F1
with `valid` as the truth); bad rows are reported with their line number on stderr and skipped.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from companion.cli import CommandError
from companion.cli._common import print_json


def register_eval(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("reward", help="score the gate on reward data (ProactiveBench format)",
                                   description="Agreement per category, Accuracy, Precision, Recall and F1 of the "
                                               "gate on a reward JSONL file (obs, pred_task, valid[, category]).")
    parser.add_argument("--data", required=True, metavar="FILE.jsonl")
    parser.add_argument("--gate", choices=("reward", "icl", "ollama"), help="gate kind (default: [gate] kind)")
    parser.add_argument("--weights", metavar="DIR", help="reward gate weights folder (default: the active model)")
    parser.add_argument("--level", type=int, default=3, choices=range(1, 6), metavar="1-5",
                        help="interruption level whose threshold decides acceptance (default 3)")
    parser.add_argument("--threshold", type=float, help="accept tasks at or above this score instead of the level's")
    parser.add_argument("--balanced", action="store_true", help="weight the four categories equally")
    parser.add_argument("--no-memory", action="store_true",
                        help="reward gate: judge with the embedding heads alone, recalling no answered situation "
                             "(use it on rows the memory holds, such as ProactiveBench's training file)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_eval)


def _gate(args: argparse.Namespace) -> Any:
    if args.weights:
        from companion.gate.reward import RewardGate

        return RewardGate(args.weights, memory=not args.no_memory)
    from companion.config import load_config
    from companion.gate import GateUnavailable, load_gate

    config = load_config()
    if args.gate:
        config.gate.kind = args.gate
    if args.no_memory:
        config.gate.memory = False
    try:
        return load_gate(config)
    except (GateUnavailable, ValueError) as exc:
        raise CommandError(str(exc)) from None


def run_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from companion.gate.reward_data import SHORT, read_rows
    from companion.gate.metrics import score_judgements

    path = Path(args.data)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    rows, problems = read_rows(path)
    for line, problem in problems:
        print(f"{path}:{line}: skipped: {problem}", file=sys.stderr)
    if not rows:
        raise CommandError(f"{path}: no usable rows")
    gate = _gate(args)
    scores = gate.score_batch([(list(r.obs), r.task) for r in rows])
    task_threshold = args.threshold if args.threshold is not None else gate.thresholds()[args.level]
    silence_threshold = float(getattr(gate, "silence_threshold", 0.5))
    predicted = [s >= (silence_threshold if r.task is None else task_threshold) for s, r in zip(scores, rows)]
    result = score_judgements([r.valid for r in rows], predicted, [r.category for r in rows], balanced=args.balanced)
    result.update({"gate": gate.name, "data": str(path), "skipped": [{"line": n, "problem": p} for n, p in problems],
                   "threshold": task_threshold, "silence_threshold": silence_threshold,
                   "memory": bool(getattr(gate, "memory_enabled", False))})
    if args.json:
        print_json(result)
        return 0
    print(f"{gate.name} gate on {path} ({len(rows)} rows, {len(problems)} skipped"
          f"{', categories weighted equally' if args.balanced else ''})")
    names = {v: k for k, v in SHORT.items()}
    for short, value in result["per_category"].items():
        shown = "   n/a" if value is None else f"{value:6.3f}"
        print(f"  {names[short]:<24} {shown}  ({result['counts'][short]} rows)")
    for key in ("accuracy", "precision", "recall", "f1"):
        print(f"  {key.capitalize():<24} {result[key]:6.3f}")
    return 0
