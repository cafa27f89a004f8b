"""Learning curves of the gate for every simulated user (issue 16): one command, figures and a plot.

    python benchmarks/bench_learning.py [--moments-export FILE] [--json] [--png docs/img/learning-curves.png]
    python benchmarks/bench_learning.py --from a.json --from b.json   # draw saved runs (--json / --out) again

FILE (default: the recorded benchmarks/data/learning-stream.jsonl) is the moments benchmark's
export (`companion eval moments --repo R --export FILE`): the proposals the real engine made at
real moments, recorded once, because re-running the daemon and the agent for every simulated user
costs far more CPU than two shared cores have. Every persona
(training/learning/personas.py) answers that stream — the annotator personas answer ProactiveBench
sessions held out from the gate — through a real store into the real gate: real judgement memory
and preference recall, real (bounded) retraining of the embedding heads. Prints the curve table
per persona (or one JSON object), the goals met, and writes the PNG docs/personalisation.md shows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    personas = result["personas"]
    if not personas:
        return
    columns = min(3, len(personas))
    rows = -(-len(personas) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.0 * rows), sharey=True, squeeze=False)
    flat = [axis for row in axes for axis in row]
    for axis in flat[len(personas):]:
        axis.set_visible(False)
    for axis, (name, persona) in zip(flat, personas.items()):
        curve = persona.get("curve", [])
        answers = [p["answers"] for p in curve]
        axis.plot(answers, [p["base_f1"] for p in curve], "k--", label="base gate")
        for mode, style in (("memory", "o-"), ("heads", "s-"), ("both", "^-")):
            axis.plot([p["answers"] for p in curve if mode in p], [p[mode]["f1"] for p in curve if mode in p],
                      style, label=mode)
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("answers")
        axis.set_ylim(0, 1)
        axis.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel("F1 on future moments")
    flat[len(personas) - 1].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from training.learning.cli import print_report
    from training.learning.personas import PERSONAS
    from training.learning.replay import LearningConfig
    from training.learning.run import goals, run_personas
    from training.learning.stream import default_moments_export

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moments-export", type=Path, default=default_moments_export(),
                        help="the moments benchmark's --export (default: benchmarks/data/learning-stream.jsonl)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=float, default=3600.0, help="seconds for the whole run")
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "img" / "learning-curves.png")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--from", dest="saved", type=Path, action="append", default=[], metavar="JSON",
                        help="draw and print saved results (`companion eval learning --json` or --out files) "
                             "instead of running: several are merged, persona by persona")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.saved:
        result = {"personas": {}, "skipped": {}, "elapsed_s": 0.0, "from": [str(p) for p in args.saved]}
        for saved in args.saved:
            part = json.loads(saved.read_text())
            result["personas"].update(part.get("personas", {}))
            result["elapsed_s"] += part.get("elapsed_s", 0.0)
    else:
        result = run_personas(list(PERSONAS), LearningConfig(seed=args.seed, budget_s=args.budget), args.moments_export)
    result["goals"] = goals(result)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    try:
        plot(result, args.png)
        result["png"] = str(args.png)
    except ImportError:
        print("matplotlib is missing (pip install 'companion[bench]'): no plot", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)
        print(json.dumps(result["goals"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
