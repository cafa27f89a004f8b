"""Speed of the in-context (icl) gate: load time, one score, and batched scores per second.

    python benchmarks/bench_personal_icl.py [--shots 8] [--json]

Uses ProactiveBench demonstrations (no store needed) and questions; prints the load average too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from companion.gate.icl_gate import IclGate, balanced_demos, proactivebench_rows

    rows = proactivebench_rows(packaged=True)
    started = time.monotonic()
    gate = IclGate(demos=balanced_demos(rows, args.shots), shots=args.shots)
    load_s = time.monotonic() - started
    pairs = [(r["obs"], r.get("pred_task")) for r in rows[:16]]
    singles = []
    for index in range(args.repeat):
        began = time.monotonic()
        gate.score(*pairs[index % len(pairs)])
        singles.append(time.monotonic() - began)
    began = time.monotonic()
    gate.score_batch(pairs)
    batch_s = time.monotonic() - began
    figures = {"load_s": round(load_s, 2), "single_p50_ms": round(1000 * statistics.median(singles), 1),
               "batch_pairs_per_s": round(len(pairs) / batch_s, 2), "shots": args.shots,
               "load_average": os.getloadavg()[0], "cpus": os.cpu_count()}
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
