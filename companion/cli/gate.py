"""`companion train reward` (personal retraining, `--rollback`) and `companion eval reward`.

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


# `companion train reward` exit code when the user has too few answers yet (not a failure).
NOT_ENOUGH_ANSWERS = 3

def register_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("reward", help="retrain the reward gate on the base data plus your own answers",
                                   description="Retrain the reward gate on ProactiveBench's data plus your accepted, "
                                               "rejected and ignored proposals; the new model replaces the current "
                                               "one only if it is not worse on a held-out part of your answers.")
    parser.add_argument("--rollback", action="store_true", help="restore the previous reward model")
    parser.add_argument("--workspace", metavar="PATH", help="use only the answers given in this workspace")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_train)


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


def run_train(args: argparse.Namespace) -> int:
    from training.reward import personal

    if args.rollback:
        try:
            message = personal.rollback()
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from None
        print_json({"rolled_back": True, "message": message}) if args.json else print(message)
        return 0
    from companion.paths import workspace_root
    from companion.store import Store

    workspace = str(workspace_root(args.workspace)) if args.workspace else None
    with Store() as store:
        try:
            report = personal.retrain(store, workspace=workspace, seed=args.seed)
        except personal.NotEnoughOutcomes as exc:
            if args.json:
                print_json({"replaced": False, "error": str(exc), "more_needed": exc.more})
                return NOT_ENOUGH_ANSWERS
            raise CommandError(str(exc), code=NOT_ENOUGH_ANSWERS) from None
    if args.json:
        print_json(report.to_dict())
        return 0
    verdict = "replaced the current model" if report.replaced else "kept the current model (the new one was worse)"
    print(f"trained on {report.rows - report.held_out} of your {report.rows} answers, judged on {report.held_out} held out")
    print(f"held-out accuracy: current {report.old['accuracy']:.3f}, new {report.new['accuracy']:.3f} -> {verdict}")
    if report.replaced:
        print("undo with: companion train reward --rollback")
    return 0


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

    from companion.gate.data import SHORT, read_rows
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
