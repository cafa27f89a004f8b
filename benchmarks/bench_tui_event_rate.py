"""Does the dashboard keep up with 1,000 events a second? Replays that rate and reports lag and stalls.

Two paths (`--path`):
- `daemon` (default): a real daemon process (`companion run`), fed by a separate producer process
  over the socket (`emit` op, 10 events every 10 ms); each event goes through the daemon's
  pipeline (redaction, merging, SQLite) → socket broadcast → the dashboard's socket reader (JSON
  parsing) → its link buffer → one UI message per batch → the timeline. This is the whole route
  a shell hook's events take, with the same process boundaries as in use.
- `direct`: prepared event payloads go straight into the link's buffer (`DaemonLink.push_event`,
  the callback the socket reader calls) from a thread, measuring the UI path alone.

The app runs headless (`App.run_test`) at 120×40. Reported:
- events received by the link, drawn in the timeline, dropped by the bounded buffer;
- lag: time from the oldest event's timestamp in a UI batch to the moment it is drawn (p50, p95, max);
- frames: a 60 Hz timer on the UI loop; a tick later than 2 intervals counts as dropped frames,
  and the longest gap is the worst freeze; the same timer over 2 idle seconds first gives the
  machine's baseline (on a loaded machine an idle app misses frames too);
- key latency: how long `p` (pause) takes to take effect while the flood goes on.

    python benchmarks/bench_tui_event_rate.py [--rate 1000] [--seconds 10] [--path daemon|direct] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


PRODUCER = """
import sys, time
from companion.client import connect
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
client = connect(sys.argv[3], start=False)
sent, start = 0, time.perf_counter()
while True:
    elapsed = time.perf_counter() - start
    if elapsed >= seconds:
        break
    due = int(rate * (int(elapsed * 100) + 1) / 100)
    batch = [{"source": "shell", "kind": "shell.command", "ts": time.time(),
              "data": {"command": f"echo event {i}", "exit_code": 0, "cwd": "."}} for i in range(sent, due)]
    if batch:
        client.request("emit", events=batch)
        sent = due
    time.sleep(max(0.0, (int(elapsed * 100) + 1) / 100 - (time.perf_counter() - start)))
print(sent)
"""


def produce_direct(rate: float, seconds: float, push, workspace: str) -> int:
    """Push prepared payloads into the link at `rate` a second, in 10 ms slices."""
    from companion.daemon import event_payload
    from companion.events import Event

    total = int(rate * seconds)
    payloads = [event_payload(Event(source="shell", kind="shell.command", workspace=workspace,
                                    data={"command": f"echo event {i}", "exit_code": 0, "cwd": "."}))
                for i in range(total)]
    sent = 0
    start = time.perf_counter()
    while sent < total:
        elapsed = time.perf_counter() - start
        due = min(total, int(rate * (int(elapsed * 100) + 1) / 100))
        while sent < due:
            payloads[sent]["ts"] = time.time()
            push(payloads[sent])
            sent += 1
        time.sleep(max(0.0, (int(elapsed * 100) + 1) / 100 - (time.perf_counter() - start)))
    return sent


def start_daemon(workspace: Path) -> subprocess.Popen:
    from companion.client import wait_for_socket

    process = subprocess.Popen([sys.executable, "-m", "companion", "run", str(workspace), "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    wait_for_socket(workspace, process=process)
    return process


async def run(args: argparse.Namespace) -> dict:
    from companion.tui.app import CompanionApp

    workspace = Path(tempfile.mkdtemp(prefix="bench-tui-")).resolve()
    daemon = start_daemon(workspace) if args.path == "daemon" else None
    app = CompanionApp(workspace, connect=daemon is not None, start_daemon=False)
    frame_gaps: list[float] = []
    result: dict = {"path": args.path, "rate": args.rate, "seconds": args.seconds}
    async with app.run_test(size=(120, 40)) as pilot:
        if daemon is not None:
            deadline = time.monotonic() + 30
            while not app.main.connection.connected and time.monotonic() < deadline:
                await pilot.pause(0.05)
        await pilot.pause(0.5)
        base_received = app.link.received
        last = [time.perf_counter()]
        interval = 1 / 60

        def tick() -> None:
            now = time.perf_counter()
            frame_gaps.append(now - last[0])
            last[0] = now

        app.set_interval(interval, tick)
        await pilot.pause(2.0)  # idle baseline: what this machine's load does to frames without events
        idle_gaps = list(frame_gaps)
        frame_gaps.clear()
        last[0] = time.perf_counter()
        sent_box: list[int] = []
        producer_process = None
        started = time.perf_counter()
        if daemon is not None:
            producer_process = subprocess.Popen([sys.executable, "-c", PRODUCER, str(args.rate), str(args.seconds),
                                                 str(workspace)], stdout=subprocess.PIPE, text=True,
                                                env=os.environ.copy())
            producer = threading.Thread(target=lambda: sent_box.append(int(producer_process.communicate()[0] or 0)),
                                        daemon=True)
        else:
            producer = threading.Thread(target=lambda: sent_box.append(
                produce_direct(args.rate, args.seconds, app.link.push_event, str(workspace))), daemon=True)
        producer.start()
        key_latencies: list[float] = []
        await pilot.pause(args.seconds / 2)
        for _ in range(2):  # press p twice under load: pause, then resume
            before = app.main.timeline.paused
            pressed = time.perf_counter()
            await pilot.press("p")
            while app.main.timeline.paused == before:
                await pilot.pause(0.001)
            key_latencies.append(time.perf_counter() - pressed)
        while producer.is_alive():
            await pilot.pause(0.05)
        sent = sent_box[0] if sent_box else 0
        # let the tail drain
        deadline = time.monotonic() + 15
        while app.link.received - base_received < sent and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        wall = time.perf_counter() - started
        dropped_frames = sum(max(0, round(gap / interval) - 1) for gap in frame_gaps if gap > 2 * interval)
        result.update({
            "sent": sent,
            "received": app.link.received - base_received,
            "dropped_in_buffer": app.link.dropped,
            "drawn": app.main.timeline.shown,
            "batches": app.batches,
            "events_per_batch": round((app.link.received - base_received) / max(1, app.batches), 1),
            "lag_p50_ms": round(1000 * percentile(app.batch_lag_s, 0.5), 1),
            "lag_p95_ms": round(1000 * percentile(app.batch_lag_s, 0.95), 1),
            "lag_max_ms": round(1000 * max(app.batch_lag_s, default=float("nan")), 1),
            "idle_worst_freeze_ms": round(1000 * max(idle_gaps, default=0.0), 1),
            "idle_median_frame_ms": round(1000 * statistics.median(idle_gaps), 1) if idle_gaps else None,
            "frames_expected": int(wall / interval),
            "frames_dropped": dropped_frames,
            "worst_freeze_ms": round(1000 * max(frame_gaps, default=0.0), 1),
            "median_frame_ms": round(1000 * statistics.median(frame_gaps), 1) if frame_gaps else None,
            "key_latency_ms": [round(1000 * k, 1) for k in key_latencies],
            "timeline_entries": len(app.main.timeline.entries),
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 1),
        })
    if daemon is not None:
        daemon.terminate()
        daemon.wait(30)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second (default 1000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to replay (default 10)")
    parser.add_argument("--path", choices=("daemon", "direct"), default="daemon")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("COMPANION_HOME", tempfile.mkdtemp(prefix="bench-tui-home-"))
    os.environ["HF_HUB_OFFLINE"] = "1"
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"TUI event-rate benchmark ({result['path']} path, {result['rate']:.0f} events/s for {result['seconds']:.0f} s)")
        for key, value in result.items():
            if key not in ("path", "rate", "seconds"):
                print(f"  {key:20} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
