"""`companion eval agent --traces DIR [--backend B] [--adapter DIR|none] [--max-steps N] [--json]`: replay ProactiveBench traces through
the agent and judge every reply with the reward gate (see companion.agent.evaluate)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from companion.cli import CommandError
from companion.cli._common import print_json


def register_eval(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("agent", help="replay ProactiveBench traces; print Recall, Precision, Accuracy, False-Alarm, F1")
    parser.add_argument("--traces", required=True, type=Path, help="a folder of *.json traces")
    parser.add_argument("--backend", choices=["transformers", "llama_cpp", "ollama", "scripted"],
                        help="agent backend (default: agent.backend of the config)")
    parser.add_argument("--model", help="backend model (default: agent.model of the config)")
    parser.add_argument("--adapter", help='LoRA adapter on the default model: a folder, or "none" for the untuned model '
                                          "(default: agent.adapter of the config: the active one, else the shipped one)")
    parser.add_argument("--max-steps", type=int, default=0, metavar="N",
                        help="replay only the first N events of each trace (a quicker, comparable subset)")
    parser.add_argument("--level", type=int, help="interruption level for the gated figures (default: the config's)")
    parser.add_argument("--steps", action="store_true", help="with --json: include every step")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from companion.agent.backends import BackendUnavailable, load_backend
    from companion.agent.evaluate import evaluate, load_traces
    from companion.agent.runner import Agent
    from companion.config import load_config
    from companion.engine.proposer import load_gate
    from companion.gate.base import threshold_for

    config = load_config(Path.cwd())
    if args.backend:
        config.agent.backend = args.backend
    if args.model:
        config.agent.model = args.model
    if args.adapter:
        config.agent.adapter = args.adapter
    if args.max_steps < 0:
        raise CommandError("--max-steps must be 0 (every event) or more")
    traces = load_traces(args.traces)
    if args.max_steps:
        traces = {name: observations[: args.max_steps] for name, observations in traces.items()}
    gate, why = load_gate(config)
    if gate is None:
        raise CommandError(f"the agent is judged by the reward gate, which is not available: {why}")
    try:
        backend = load_backend(config)
    except BackendUnavailable as exc:
        raise CommandError(str(exc)) from None
    agent = Agent.from_config(backend, config, workspace=None)
    level = args.level or config.general.interruption_level
    progress = None if args.json else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        result = evaluate(traces, agent, gate, threshold_for(gate, level), progress)
    finally:
        agent.close()
    adapter = getattr(backend, "adapter", None)
    result.update({"backend": backend.name, "model": getattr(backend, "model_name", ""), "gate": getattr(gate, "name", ""),
                   "level": level, "adapter": str(adapter) if adapter else None, "few_shot": agent.few_shot,
                   "max_observation_tokens": agent.max_observation_tokens, "max_steps": args.max_steps or None})
    if not args.steps:
        result.pop("steps")
    if args.json:
        print_json(result)
        return 0
    print(f"{result['traces']} traces, {result['events']} events, backend {result['backend']} ({result['model']}; "
          f"{'few-shot' if result['few_shot'] else 'no few-shot'} prompt), "
          f"judged by gate {result['gate']}; {result['seconds']} s")
    print(f"{'':8} {'Recall':>7} {'Precision':>9} {'Accuracy':>8} {'False-Alarm':>11} {'F1':>6}")
    for label, scores in (("agent", result), ("gated", result["gated"])):
        print(f"{label:8} {scores['Recall']:7.1%} {scores['Precision']:9.1%} {scores['Accuracy']:8.1%} "
              f"{scores['False-Alarm']:11.1%} {scores['F1']:6.1%}")
    print(f"proposed {result['proposed']} tasks; {result['unusable_replies']} replies unusable (counted as no task); "
          f"{result['well_formed_json']:.0%} of replies well-formed JSON")
    return 0
