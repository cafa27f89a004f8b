"""Save-to-event latency: from an editor-style save to the `file.saved` event pushed over the socket.

A real daemon (`python -m companion run PATH --quiet`, as the user runs it) watches a temporary
git repository; this process subscribes to its events over the Unix socket (companion.ipc) and
saves files 200 times the way editors do (write a temporary file, rename it over the original),
each time waiting for the pushed event. The saves rotate over 50 files, so each file is saved
about once every 18 s (the watcher holds back a file saved more than 10 times a minute). Latency is the time from the rename to the event's
arrival, so it includes the debounce by design; the target is debounce + 50 ms at p95.

    python benchmarks/bench_foundation_save_latency.py [--json] [--saves 200] [--debounce-ms 300]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _foundation_common import arguments, report, start_daemon, stop_daemon, temp_home, wait_for_socket

OVERHEAD_TARGET_MS = 50.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> int:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--debounce-ms", type=int, default=None, help="default: companion's own default")
    parser.add_argument("--no-engine", action="store_true", help="run the daemon without its services")
    args = parser.parse_args()
    from companion.config import WatchConfig

    debounce_ms = args.debounce_ms if args.debounce_ms is not None else WatchConfig().debounce_ms
    repo = Path(tempfile.mkdtemp(prefix="companion-bench-latency-")).resolve()
    home = temp_home()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    targets = [repo / f"service{n}.py" for n in range(50)]
    for target in targets:
        target.write_text("def handler(request):\n    return 0\n")
    (repo / ".companion.toml").write_text(f"[watch]\ndebounce_ms = {debounce_ms}\n")
    arrived: dict[str, float] = {}
    signal = threading.Condition()

    def on_message(message: dict[str, Any]) -> None:
        event = message.get("event") or {}
        if event.get("kind") == "file.saved" and str(event.get("data", {}).get("path", "")).startswith("service"):
            with signal:
                arrived[f"{event['data']['path']}:{event['data'].get('lines')}"] = time.perf_counter()
                signal.notify_all()

    latencies: list[float] = []
    missing = 0
    process = start_daemon(repo, home, *(["--no-engine"] if args.no_engine else []))
    try:
        wait_for_socket(repo, home, process)
        time.sleep(1.0)  # let the watcher finish its (tiny) walk
        from companion import paths
        from companion.ipc import Client

        with Client(paths.socket_file(repo), on_message=on_message) as client:
            client.request("subscribe", topics=["event"])
            for i in range(args.saves):
                target = targets[i % len(targets)]
                lines = 2 + i + 1  # a distinct line count identifies each save's event
                key = f"{target.name}:{lines}"
                body = "def handler(request):\n    return 0\n" + "".join(f"# save {n}\n" for n in range(i + 1))
                temp = repo / f".{target.name}.{i}.tmp"
                temp.write_text(body)
                os.replace(temp, target)
                saved_at = time.perf_counter()
                with signal:
                    signal.wait_for(lambda: key in arrived, timeout=debounce_ms / 1000 + 5)
                    got = arrived.get(key)
                if got is None:
                    missing += 1
                else:
                    latencies.append((got - saved_at) * 1000)
                time.sleep(0.05)
    finally:
        stop_daemon(process)
        shutil.rmtree(repo, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    if not latencies:
        raise SystemExit("no file.saved event arrived")
    p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    limit = debounce_ms + OVERHEAD_TARGET_MS
    return report("Save-to-event latency (companion run, socket subscriber)", [
        ("p50 latency (ms)", round(p50, 1), f"<= {limit:.0f} ms", p50 <= limit),
        ("p95 latency (ms)", round(p95, 1), f"<= {limit:.0f} ms", p95 <= limit),
        ("saves without an event", missing, "0", missing == 0),
    ], args.json, {"saves": args.saves, "debounce_ms": debounce_ms,
                   "p50_overhead_ms": round(p50 - debounce_ms, 1), "p95_overhead_ms": round(p95 - debounce_ms, 1),
                   "max_ms": round(max(latencies), 1)})


if __name__ == "__main__":
    raise SystemExit(main())
