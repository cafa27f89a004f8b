"""`companion export dataset|ollama` and `companion train reward|agent|svd`: personalisation commands.

They live with the training code they wrap, and reach the `companion` command as a plug-in (the
`companion.commands` entry point in pyproject.toml), so the run-time packages never import
training/. These are thin wrappers that turn its results into printed figures (or one JSON object
with --json) and its data shortages into clear errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from companion.cli import CommandError
from companion.cli._common import NOT_ENOUGH_ANSWERS, print_json


def _workspace(args: argparse.Namespace) -> str | None:
    from companion import paths

    return str(paths.workspace_root(args.workspace)) if getattr(args, "workspace", None) else None


def _error(exc: Exception) -> Exception:
    return CommandError(str(exc))


# -- export -----------------------------------------------------------------------------------
def register_export(subparsers: Any) -> None:
    dataset = subparsers.add_parser("dataset", help="your answered proposals as reward and agent training data (redacted)")
    dataset.add_argument("--out", type=Path, default=None, help="folder to write (default: <data dir>/datasets)")
    dataset.add_argument("--workspace", default=None, help="only this workspace's proposals (default: all)")
    dataset.add_argument("--json", action="store_true")
    dataset.set_defaults(func=export_dataset)

    ollama = subparsers.add_parser("ollama", help="merge the active LoRA adapter and write a folder for `ollama create`")
    ollama.add_argument("--out", type=Path, default=None, help="folder to write (default: <models dir>/ollama/companion-agent)")
    ollama.add_argument("--adapter", type=Path, default=None, help="adapter folder (default: the active one)")
    ollama.add_argument("--json", action="store_true")
    ollama.set_defaults(func=export_ollama)


def export_dataset(args: argparse.Namespace) -> int:
    from training.dataset import export

    manifest = export(args.out, _workspace(args))
    if args.json:
        print_json(manifest)
        return 0
    outcomes = ", ".join(f"{n} {k}" for k, n in sorted(manifest["outcomes"].items())) or "none"
    print(f"answered proposals: {outcomes}")
    print(f"reward rows (ProactiveBench format): {manifest['reward_rows']} -> {manifest['files']['reward']}")
    print(f"agent fine-tuning examples (accepted proposals): {manifest['agent_examples']} -> {manifest['files']['agent']}")
    return 0


def export_ollama(args: argparse.Namespace) -> int:
    from training.ollama_export import export

    try:
        result = export(args.out, args.adapter).to_dict()
    except (RuntimeError, FileNotFoundError) as exc:
        raise _error(exc) from None
    if args.json:
        print_json(result)
        return 0
    print(f"merged adapter: {result['adapter'] or 'none (the untuned model)'}")
    print(f"wrote {result['out']} (safetensors, tokenizer, Modelfile); template matches the tokenizer's: "
          f"{result['template_ok']}; merged greedy output equals base+adapter on {result['probes']} prompts: "
          f"{result['greedy_equal']}")
    print(f"next: {result['create']}")
    return 0


# -- train ------------------------------------------------------------------------------------
def register_train(subparsers: Any) -> None:
    _register_train_reward(subparsers)
    agent = subparsers.add_parser("agent", help="LoRA fine-tune the agent on your accepted proposals (+ ProactiveBench)")
    agent.add_argument("--rollback", action="store_true", help="return to the previously active adapter")
    agent.add_argument("--base-only", action="store_true", help="train on ProactiveBench examples only")
    agent.add_argument("--data", default=None, help="an exported agent.jsonl (default: your outcomes in the store)")
    agent.add_argument("--workspace", default=None)
    agent.add_argument("--steps", type=int, default=None)
    agent.add_argument("--batch-size", type=int, default=None)
    agent.add_argument("--lr", type=float, default=None)
    agent.add_argument("--out", default=None, help="run folder (resumes when it holds a checkpoint)")
    agent.add_argument("--no-activate", action="store_true", help="train and report, but keep the current adapter")
    agent.add_argument("--json", action="store_true")
    agent.set_defaults(func=train_agent)

    svd = subparsers.add_parser("svd", help="search SVD pruning that improves the in-context (icl) gate")
    svd.add_argument("--budget", type=float, default=600.0, help="seconds of search (default 600)")
    svd.add_argument("--demos", default="auto", choices=["auto", "user", "proactivebench", "simulated-user"],
                     help="demonstrations: your outcomes (auto when you have enough) or ProactiveBench")
    svd.add_argument("--shots", type=int, default=None)
    svd.add_argument("--per-category", type=int, default=None)
    svd.add_argument("--layers", default="", help="comma-separated layers to try (default: all, deepest first)")
    svd.add_argument("--workspace", default=None)
    svd.add_argument("--out", default=None, help="plan file (default: where the icl gate reads it)")
    svd.add_argument("--json", action="store_true")
    svd.set_defaults(func=train_svd)


def train_agent(args: argparse.Namespace) -> int:
    from companion.agent import adapters

    if args.rollback:
        try:
            current = adapters.rollback()
        except LookupError as exc:
            raise _error(exc) from None
        message = {"active": str(current) if current else None}
        print_json(message) if args.json else print(f"active adapter now: {message['active'] or 'none (untuned model)'}")
        return 0
    from training.agent_lora import AgentLoraConfig, NotEnoughData, main

    cfg = AgentLoraConfig(data=args.data, workspace=_workspace(args), base_only=args.base_only, out=args.out,
                          activate=not args.no_activate)
    for name in ("steps", "batch_size", "lr"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    try:
        metrics = main(cfg)
    except (NotEnoughData, ValueError) as exc:
        raise _error(exc) from None
    summary = {k: v for k, v in metrics.items() if k != "losses"}
    if args.json:
        print_json(summary)
        return 0
    before, after = metrics["before"], metrics["after"]
    print(f"trained {metrics['steps_run']} steps in {metrics['wall_s']} s ({metrics['steps_per_s']} steps/s) on "
          f"{metrics['device']}: {metrics['train_examples']} examples ({metrics['user_examples']} yours)")
    print(f"held-out loss {before['loss']:.3f} -> {after['loss']:.3f}" +
          (f"; JSON ok {before['json_ok']:.2f} -> {after['json_ok']:.2f}; task decisions agree "
           f"{before['decision_agreement']:.2f} -> {after['decision_agreement']:.2f}" if "json_ok" in after else ""))
    print(f"adapter: {metrics['adapter']} — " + ("now active" if metrics["activated"] else
                                                  "not activated (worse than the current agent)" if not metrics["not_worse"]
                                                  else "not activated (--no-activate)"))
    return 0


def train_svd(args: argparse.Namespace) -> int:
    from training.svd_icl import NotEnoughData, SvdConfig, format_table, search

    cfg = SvdConfig(demos=args.demos, budget_s=args.budget, workspace=_workspace(args), out=args.out,
                    layers=tuple(int(x) for x in args.layers.split(",") if x.strip()))
    for name in ("shots", "per_category"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    try:
        report = search(cfg)
    except NotEnoughData as exc:
        raise _error(exc) from None
    if args.json:
        print_json(report)
        return 0
    base, best = report["baseline"], report["best"]
    print(f"demonstrations: {report['source']}; tried {report['tried']} of {report['candidates']} prunings "
          f"in {report['seconds']} s" + (" (budget reached)" if report["stopped_by_budget"] else ""))
    print(format_table(report))
    print(f"unpruned judge: validation {base['val']:.3f}, test {base['test']:.3f}")
    if report["improved"]:
        print(f"saved plan: layer {best['layer']} {best['module']} keep {best['ratio']} "
              f"(validation {best['val']:.3f}, test {best['test']:.3f}) -> {report['plan_file']}")
    else:
        print(f"no pruning beat the unpruned judge on validation; saved an empty plan -> {report['plan_file']}")
    return 0


# -- train reward ------------------------------------------------------------------------------
def _register_train_reward(subparsers: Any) -> None:
    parser = subparsers.add_parser("reward", help="retrain the reward gate on the base data plus your own answers",
                                   description="Retrain the reward gate on ProactiveBench's data plus your accepted, "
                                               "rejected and ignored proposals; the new model replaces the current "
                                               "one only if it is not worse on a held-out part of your answers.")
    parser.add_argument("--rollback", action="store_true", help="restore the previous reward model")
    parser.add_argument("--workspace", metavar="PATH", help="use only the answers given in this workspace")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--budget-s", type=float, default=None, metavar="SECONDS",
                        help="stop retraining after this many seconds and keep the current model "
                             "(default 600; 0 = no limit)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_train)


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
    budget_s = personal.DEFAULT_BUDGET_S if args.budget_s is None else args.budget_s
    if budget_s < 0:
        raise CommandError("--budget-s must be 0 (no limit) or a number of seconds")
    with Store() as store:
        try:
            report = personal.retrain(store, workspace=workspace, seed=args.seed, budget_s=budget_s)
        except personal.NotEnoughOutcomes as exc:
            if args.json:
                print_json({"replaced": False, "error": str(exc), "more_needed": exc.more})
                return NOT_ENOUGH_ANSWERS
            raise CommandError(str(exc), code=NOT_ENOUGH_ANSWERS) from None
        except personal.BudgetExceeded as exc:
            message = f"{exc}; the current model is kept"
            if args.json:
                print_json({"replaced": False, "error": message, "budget_s": exc.budget_s})
                return 2
            raise CommandError(message) from None
    if args.json:
        print_json(report.to_dict())
        return 0
    verdict = "replaced the current model" if report.replaced else "kept the current model (the new one was worse)"
    print(f"trained on {report.rows - report.held_out} of your {report.rows} answers, judged on {report.held_out} held out")
    print(f"held-out accuracy: current {report.old['accuracy']:.3f}, new {report.new['accuracy']:.3f} -> {verdict}")
    if report.replaced:
        print("undo with: companion train reward --rollback")
    return 0


# -- eval ---------------------------------------------------------------------------------------
def register_eval(subparsers: Any) -> None:
    from training.learning.cli import register

    register(subparsers)
