"""Reward gate speed: model load, one pair (p50/p95), batched pairs per second.

    python benchmarks/bench_gate_speed.py [--json] [--pairs N]

Targets (issue 4, on a 2-core laptop CPU): load <= 2 s, one pair p50 <= 20 ms, batch >= 100
pairs/s. "One pair" is what the engine does: the history grew by one new event and a new task
came, so each call embeds one new event and one task (earlier events are in the gate's cache);
"task only" is the same calls with the events embedded beforehand. The batch passes score
distinct ProactiveBench pairs, once with a cold sentence cache (every event and task embedded:
evaluating a file) and once with the events already cached (candidate tasks for a history whose
events were embedded as they arrived), with the gate's default number of encoder threads
(--threads compares others); a third scores a ProactiveBench-style held-out split (drawn as
training/reward/heldout.py draws it, cold cache), what `companion eval reward` does on the test
file. `--encoder torch` measures the fallback runtime instead of ONNX Runtime. Load is measured
in a fresh interpreter (imports included), as a daemon would pay it. The machine's load average
is printed alongside: on a shared machine the figures are only as good as its quietness.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure_load(runtime: str) -> float:
    code = ("import time; t=time.perf_counter(); from companion.gate.reward import RewardGate; "
            f"g=RewardGate(encoder_runtime={runtime!r}); "
            "g.score([{'time':'t','event':'The user opens a file.'}], 'Explain the file'); "
            "print(time.perf_counter()-t)")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                 check=True).stdout.strip().splitlines()[-1]) for _ in range(3)]
    return min(runs)


def timed_calls(gate, rows, task_of) -> list[float]:
    """Milliseconds of one `score` call per row."""
    out = []
    for row in rows:
        t = time.perf_counter()
        gate.score(list(row.obs), task_of(row))
        out.append((time.perf_counter() - t) * 1000)
    return out


def percentile95(values: list[float]) -> float:
    return round(sorted(values)[int(0.95 * len(values)) - 1], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--threads", type=int, nargs="+", default=[0],
                        help="encoder shards (threads) for the batch runs; 0 = the gate's default "
                             "(companion.gate.encoder.default_threads: 2 on 2 cores or more)")
    from companion.gate.encoder import RUNTIMES

    parser.add_argument("--encoder", choices=RUNTIMES, default="auto",
                        help="the encoder runtime ([gate] encoder); auto = ONNX Runtime when installed")
    args = parser.parse_args()

    from companion.gate.encoder import SentenceEncoder, default_threads
    from companion.gate.reward import RewardGate
    from companion.gate import base_set
    from training.reward import heldout

    rows = base_set.load_rows()
    load_s = measure_load(args.encoder)
    gate = RewardGate(encoder_runtime=args.encoder)
    # one pair at a time, like the engine: a trace's history grows by one event per call
    rows_by_trace: dict[str, list] = {}
    for row in rows:
        if row.task:
            rows_by_trace.setdefault(row.trace_key, []).append(row)
    stream = sorted((r for rs in rows_by_trace.values() for r in rs), key=lambda r: (r.trace_key, len(r.obs)))[:120]
    gate.score(list(stream[0].obs), stream[0].task)  # warm-up (also builds the judgement memory)
    singles = timed_calls(gate, stream, lambda row: row.task)
    # the same calls with their events embedded beforehand (the daemon embeds events as they arrive)
    gate.encoder.embed(list({o["event"] for r in stream for o in r.obs}))
    task_only = timed_calls(gate, stream, lambda row: row.task + " (again)")
    batch = [(list(r.obs), r.task) for r in rows[:: max(1, len(rows) // args.pairs)]][: args.pairs]
    task_rows = [r for r in rows if r.task][:: 3][: args.pairs]
    figures = {"load_s": round(load_s, 3),
               "single_p50_ms": round(statistics.median(singles), 2),
               "single_p95_ms": percentile95(singles),
               "single_task_only_p50_ms": round(statistics.median(task_only), 2),
               "single_task_only_p95_ms": percentile95(task_only)}
    for threads in sorted(set(args.threads)):
        # batched, cold cache: every sentence embedded (evaluating a file)
        threads = threads or default_threads()
        fresh = RewardGate(encoder=SentenceEncoder(threads=threads, runtime=args.encoder))
        t = time.perf_counter()
        fresh.score_batch(batch)
        figures[f"batch_cold_{threads}_threads_pairs_per_s"] = round(len(batch) / (time.perf_counter() - t), 1)
        # batched, the engine's case: several candidate tasks for histories whose events are cached
        fresh.encoder.embed(list({o["event"] for r in task_rows for o in r.obs}))
        t = time.perf_counter()
        fresh.score_batch([(list(r.obs), r.task) for r in task_rows])
        figures[f"batch_warm_{threads}_threads_pairs_per_s"] = round(len(task_rows) / (time.perf_counter() - t), 1)
        # a held-out split drawn like ProactiveBench's test file, every sentence new to the encoder
        split = [(list(r.obs), r.task) for r, held in zip(rows, heldout.simulated_split(rows, seed=0)) if held]
        fresh = RewardGate(encoder=SentenceEncoder(threads=threads, runtime=args.encoder))
        fresh.judgement_memory()  # built once per gate, as a daemon's gate has it before the first call
        t = time.perf_counter()
        fresh.score_batch(split)
        figures[f"heldout_file_{threads}_threads_pairs_per_s"] = round(len(split) / (time.perf_counter() - t), 1)
    figures.update({"batch_pairs": len(batch), "encoder": gate.encoder.runtime, "memory": gate.memory_enabled,
                    "loadavg_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
                    "targets": {"load_s": 2.0, "single_p50_ms": 20.0, "batch_pairs_per_s": 100.0}})
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
