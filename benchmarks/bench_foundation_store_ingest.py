"""Store ingest: events per second written by companion.store.Store in batched transactions.

Realistic events (file saves with change summaries, shell commands, git commits, errors) are
built first, then written in batches of 500 (the pipeline's batch size) to a fresh WAL database
in a temporary folder. Events per CPU second of the process are printed too: on a shared
machine the wall-clock rate mostly measures the other processes. The target is ≥ 20,000 events/s on a 2-core machine. For information it
also times the whole pipeline (redaction of every string + merge + batched store), which is what
a burst of watcher events really goes through.

    python benchmarks/bench_foundation_store_ingest.py [--json] [--events N]
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path

from _foundation_common import arguments, report

TARGET = 20_000
BATCH = 500


def realistic_events(count: int, workspace: str) -> list:
    from companion.events import Event

    rng = random.Random(7)
    modules = [f"api/{name}.py" for name in ("client", "server", "models", "retry", "auth", "cache")]
    events = []
    for i in range(count):
        pick = i % 10
        if pick < 6:
            events.append(Event("file", "file.saved", {
                "path": rng.choice(modules), "size": rng.randint(200, 40_000), "lines": rng.randint(10, 900),
                "lines_added": rng.randint(0, 40), "lines_removed": rng.randint(0, 20),
                "hunks": [f"@@ -{n},7 +{n},9 @@ def handler_{n}(request):" for n in rng.sample(range(1, 800), 2)],
                "symbols": ["Client.connect", "retry"], "baseline": "cache"}, workspace))
        elif pick < 9:
            events.append(Event("shell", "shell.command", {
                "command": rng.choice(["pytest -x tests/test_client.py", "git status", "make build",
                                       "python -m api.server --port 8080"]),
                "cwd": "api", "exit": rng.choice([0, 0, 1]), "duration_s": round(rng.random() * 5, 2),
                "output_tail": "FAILED tests/test_client.py::test_connect - ImportError: cannot import name 'Client'"},
                workspace))
        else:
            events.append(Event("git", "git.commit", {
                "hash": f"{rng.getrandbits(160):040x}", "summary": "Retry connections with back-off",
                "files": modules[:3], "branch": "main"}, workspace))
    return events


def store_rate(events: list, folder: Path) -> tuple[float, float]:
    """(events per wall-clock second, events per CPU second of this process)."""
    from companion.store import Store

    store = Store(folder / "ingest.db")
    began, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(events), BATCH):
        store.add_events(events[start:start + BATCH])
    elapsed, cpu_used = time.perf_counter() - began, time.process_time() - cpu
    assert store.count_events() == len(events)
    store.close()
    return len(events) / elapsed, len(events) / cpu_used


def pipeline_rate(events: list, folder: Path) -> float:
    from companion.pipeline import Pipeline
    from companion.redact import Redactor
    from companion.store import Store

    store = Store(folder / "pipeline.db")
    pipeline = Pipeline(store, Redactor())
    pipeline.start()
    began = time.perf_counter()
    for event in events:
        pipeline.submit(event)
    pipeline.flush(600)
    elapsed = time.perf_counter() - began
    pipeline.stop()
    store.close()
    return len(events) / elapsed


def main() -> int:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="companion-bench-store-"))
    try:
        events = realistic_events(args.events, str(folder))
        rate, cpu_rate = store_rate(events, folder)
        piped = pipeline_rate(events[: max(1, args.events // 10)], folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return report("Store ingest", [("store ingest (events/s, batches of 500)", round(rate), f">= {TARGET}", rate >= TARGET)],
                  args.json, {"events": args.events, "store_events_per_cpu_second": round(cpu_rate),
                             "pipeline_with_redaction_events_per_s": round(piped)})


if __name__ == "__main__":
    raise SystemExit(main())
