"""Agent quality on the ProactiveBench coding traces with the default backend.

    python benchmarks/bench_agent_quality.py [--traces DIR] [--backend B] [--json]

The same replay as `companion eval agent` (see companion/agent/evaluate.py). With the reward gate
installed it prints the paper's Recall, Precision, Accuracy, False-Alarm and F1 (agent alone, and
gated). Without a gate there is no judge: it prints only what the agent did (tasks proposed,
unusable replies, seconds per step), and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# ../shared next to the checkout (or two levels up, from a worktree under /work/wt/)
DEFAULT_TRACES = next((p / "shared" / "data" / "proactivebench" / "traces" for p in (ROOT.parent, ROOT.parent.parent)
                       if (p / "shared" / "data" / "proactivebench" / "traces").is_dir()),
                      ROOT.parent / "shared" / "data" / "proactivebench" / "traces")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=Path, default=Path(os.environ.get("PROACTIVEBENCH_TRACES", DEFAULT_TRACES)))
    parser.add_argument("--backend")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from companion.agent.backends import load_backend
    from companion.agent.evaluate import evaluate, load_traces
    from companion.agent.runner import Agent
    from companion.config import load_config
    from companion.engine.proposer import load_gate
    from companion.gate.base import threshold_for

    if not args.traces.is_dir():
        print(f"no traces at {args.traces}; pass --traces DIR", file=sys.stderr)
        return 2
    config = load_config(ROOT)
    if args.backend:
        config.agent.backend = args.backend
    gate, why = load_gate(config)
    backend = load_backend(config)
    agent = Agent.from_config(backend, config)
    threshold = threshold_for(gate, config.general.interruption_level) if gate else 1.0
    progress = None if args.json else (lambda line: print(line, file=sys.stderr, flush=True))
    result = evaluate(load_traces(args.traces), agent, gate, threshold, progress)
    agent.close()
    steps = result.pop("steps")
    result.update({"backend": backend.name, "model": getattr(backend, "model_name", ""),
                   "gate": getattr(gate, "name", None), "gate_problem": why or None,
                   "mean_step_s": round(sum(s["seconds"] for s in steps) / max(1, len(steps)), 2),
                   "tasks": [s["raw"]["pred"] for s in steps if s["raw"]["pred"]][:20]})
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['traces']} traces, {result['events']} events; backend {result['backend']} ({result['model']}); "
          f"{result['mean_step_s']} s a step")
    print(f"tasks proposed: {result['proposed']}; unusable replies (counted as no task): {result['unusable_replies']}")
    if gate is None:
        print(f"no judge: {why}. Recall/Precision/F1 need the reward gate.")
    else:
        for label, scores in (("agent", result), ("gated", result["gated"])):
            print(f"{label:6} Recall {scores['Recall']:.1%} Precision {scores['Precision']:.1%} "
                  f"Accuracy {scores['Accuracy']:.1%} False-Alarm {scores['False-Alarm']:.1%} F1 {scores['F1']:.1%}")
    for task in result["tasks"][:8]:
        print(f"  e.g. {task!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
