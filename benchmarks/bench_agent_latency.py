"""Trigger-to-proposal latency, end to end, for a failing command, through a real daemon.

    python benchmarks/bench_agent_latency.py [--runs 3] [--backend llama_cpp] [--json]

A fresh `companion run --detach` daemon (engine on, the configured or given backend, the real
gate when it is installed) in a throw-away git repository and COMPANION_HOME. Each run executes a
real failing command, reports it over the socket the way the shell hook does, and times until the
engine has finished its step: the proposal pushed on the `proposal` topic, or the step counted in
`status` when the model proposed nothing (both are reported). The budget is opened wide (no
cool-down, no repeat window) so every run is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = [f"{sys.executable} -c \"import no_such_module_{i}\"" for i in range(10)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", help="agent backend (default: the config's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="companion-latency-"))
    repo = home / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    env = {"COMPANION_HOME": str(home), "COMPANION_ENGINE_ENABLED": "true", "COMPANION_ENGINE_COOLDOWN_S": "0",
           "COMPANION_ENGINE_BACKOFF_S": "0", "COMPANION_ENGINE_REPEAT_WINDOW_S": "0",
           "COMPANION_ENGINE_MAX_PER_HOUR": "1000", "COMPANION_ENGINE_IDLE_S": "3600", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if args.backend:
        env["COMPANION_AGENT_BACKEND"] = args.backend
    os.environ.update(env)
    from companion import paths
    from companion.ipc import Client

    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "companion", "run", str(repo), "--detach"], check=True, capture_output=True)
    client_inbox: queue.Queue[dict] = queue.Queue()
    client = Client(paths.socket_file(repo), on_message=client_inbox.put, timeout=600)
    client.request("subscribe", topics=["proposal"])
    while not client.request("status")["status"]["engine"]["loaded"]:
        time.sleep(0.05)
    ready_s = time.perf_counter() - started
    engine = client.request("status")["status"]["engine"]
    runs = []
    try:
        for i in range(args.runs):
            steps_before = client.request("status")["status"]["engine"]["steps"]
            done = subprocess.run(COMMANDS[i], shell=True, cwd=repo, capture_output=True, text=True)
            event = {"source": "shell", "kind": "shell.command",
                     "data": {"command": COMMANDS[i], "cwd": str(repo), "exit_code": done.returncode,
                              "duration_s": 0.1, "output": done.stderr[-1000:]}}
            t0 = time.perf_counter()
            client.request("emit", events=[event])
            proposal = None
            while True:
                try:
                    message = client_inbox.get(timeout=0.02)
                    if message.get("change") == "new":
                        proposal = message["proposal"]
                        break
                except queue.Empty:
                    pass
                if client.request("status")["status"]["engine"]["steps"] > steps_before:
                    try:  # the step is counted just before its proposal is offered
                        message = client_inbox.get(timeout=0.5)
                        proposal = message["proposal"] if message.get("change") == "new" else None
                    except queue.Empty:
                        pass
                    break
            runs.append({"latency_s": round(time.perf_counter() - t0, 3), "proposal": proposal and proposal["task"],
                         "score": proposal and proposal["score"], "surfaced": proposal and proposal["surfaced"]})
    finally:
        client.request("shutdown")
        client.close()
    latencies = sorted(r["latency_s"] for r in runs)
    summary = {"backend": engine["backend"], "model": engine["model"], "gate": engine["gate"],
               "daemon_ready_s": round(ready_s, 2), "runs": runs, "median_latency_s": latencies[len(latencies) // 2],
               "load_average": round(os.getloadavg()[0], 2)}
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"backend {summary['backend']} ({summary['model']}), gate {summary['gate']}; daemon start to model loaded "
          f"{ready_s:.2f} s; load average {summary['load_average']}")
    for number, run in enumerate(runs, 1):
        what = f"proposal {run['proposal']!r} score {run['score']}" if run["proposal"] else "no proposal (model proposed nothing)"
        print(f"run {number}: failing command -> engine done in {run['latency_s']:.2f} s: {what}")
    print(f"median trigger-to-proposal latency: {summary['median_latency_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
