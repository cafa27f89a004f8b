"""How fast the quick-fix rules answer, alone and through a real daemon with the shipped gate.

    python benchmarks/bench_quickfix.py [--runs 20] [--json]

1. Real failures (a missing module, a typo, a traceback, a SyntaxError, a merge conflict, a push
   without upstream) are run once in a temporary folder; then every rule of the book is timed on
   each of them `--runs` times: p50 / p95 / max milliseconds per moment.
2. A real daemon (store, pipeline with the evidence stage, engine with the reward gate, no model)
   gets each failure as a shell.command event: trigger -> proposal stored, p50 / p95 seconds.
   Target (issue 20): p50 <= 1.5 s, p95 <= 5 s. The model, when there is one, refines later.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from companion.events import Event  # noqa: E402
from companion.quickfix import Moment, RuleBook  # noqa: E402

ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b",
       "GIT_COMMITTER_EMAIL": "b@example.com", "LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1"}


def sh(cwd: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **ENV, "HOME": str(cwd)}, timeout=60)


def moments(root: Path) -> list[tuple[str, str]]:
    """(name, command) of real failures prepared in `root` (a git repository)."""
    py = sys.executable
    sh(root, "git init -q -b main . && git config user.name b && git config user.email b@example.com")
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "core.py").write_text("def load(d):\n    return d['key']\n")
    (root / "main.py").write_text("from app.core import load\nprint(load({}))\n")
    (root / "report.py").write_text("import pytomlpp\n")
    (root / "bad.py").write_text("def f(:\n    pass\n")
    (root / "x.txt").write_text("base\n")
    sh(root, "git add -A && git commit -qm base && git switch -q -c topic && echo topic > x.txt && git commit -qam t "
             "&& git switch -q main && echo main > x.txt && git commit -qam m")
    sh(root, f"git init -q --bare {root / '.remote.git'} && git remote add origin {root / '.remote.git'} "
             "&& git push -q origin main && git switch -q -c feature")
    return [("missing module", f"{py} report.py"), ("typo", "gti status"), ("traceback", f"{py} main.py"),
            ("syntax error", f"{py} bad.py"), ("push without upstream", "git push"),
            ("merge conflict", "git switch -q main && git merge topic")]


def event_of(root: Path, command: str) -> Event:
    done = sh(root, command)
    output = done.stdout + done.stderr
    return Event(source="shell", kind="shell.command", workspace=str(root),
                 data={"command": command, "cwd": str(root), "exit_code": done.returncode,
                       "evidence": {"output": {"tail": output, "lines": output.count("\n"), "bytes": len(output),
                                               "truncated": False, "route": "pty"}}})


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def rules_alone(root: Path, events: list[tuple[str, Event]], runs: int) -> dict[str, dict[str, float]]:
    book = RuleBook()
    figures = {}
    for name, event in events:
        spent = []
        for _ in range(runs):
            began = time.perf_counter()
            found = book.candidates(Moment("failed_command", event, root))
            spent.append((time.perf_counter() - began) * 1000)
        figures[name] = {"p50_ms": round(percentile(spent, 0.5), 2), "p95_ms": round(percentile(spent, 0.95), 2),
                         "max_ms": round(max(spent), 2), "best": found[0].task if found else None}
    return figures


def through_daemon(root: Path, events: list[tuple[str, Event]]) -> dict[str, float]:
    os.environ.setdefault("COMPANION_HOME", tempfile.mkdtemp(prefix="bench-home-"))
    from companion.agent.backends import BackendUnavailable
    from companion.config import load_config
    from companion.daemon import Daemon
    from companion.engine.engine import Engine

    def no_model():
        raise BackendUnavailable("no model in this benchmark: the rules alone")

    config = load_config(root)
    config.engine.cooldown_s = 0.0
    config.engine.max_per_hour = 1000
    config.engine.repeat_window_s = 0.0
    daemon = Daemon(root, config=config, services=False)
    daemon.start()
    engine = Engine(daemon, backend_factory=no_model)
    engine.start()
    try:
        engine._ensure_proposer()  # load the gate before timing, as preload does at daemon start
        seconds = []
        for _name, event in events * 3:
            before = len(daemon.store.proposals(workspace=str(daemon.workspace)))
            fresh = Event(source=event.source, kind=event.kind, data=event.data, workspace=str(daemon.workspace))
            began = time.perf_counter()
            daemon.submit(fresh)
            while len(daemon.store.proposals(workspace=str(daemon.workspace))) == before:
                if time.perf_counter() - began > 30:
                    break
                time.sleep(0.005)
            seconds.append(time.perf_counter() - began)
        stored = daemon.store.proposals(workspace=str(daemon.workspace))
        return {"p50_s": round(percentile(seconds, 0.5), 3), "p95_s": round(percentile(seconds, 0.95), 3),
                "max_s": round(max(seconds), 3), "proposals": len(stored),
                "surfaced": sum(p.surfaced for p in stored), "gate": engine.status()["gate"]["kind"]}
    finally:
        engine.stop()
        daemon.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-quickfix-") as folder:
        root = Path(folder).resolve()
        events = [(name, event_of(root, command)) for name, command in moments(root)]
        alone = rules_alone(root, events, args.runs)
        daemon = through_daemon(root, events)
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"rules": alone, "daemon": daemon, "load": load}))
        return 0
    print(f"load average {load:.1f}")
    print(f"{'moment':24} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  best candidate")
    for name, row in alone.items():
        print(f"{name:24} {row['p50_ms']:8.2f} {row['p95_ms']:8.2f} {row['max_ms']:8.2f}  {row['best']}")
    print(f"daemon (gate {daemon['gate']}): trigger -> proposal p50 {daemon['p50_s']} s, p95 {daemon['p95_s']} s, "
          f"max {daemon['max_s']} s; {daemon['surfaced']}/{daemon['proposals']} surfaced")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
