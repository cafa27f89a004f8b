"""What the evidence stage costs on the pipeline thread, and how big its blob store gets.

    python benchmarks/bench_evidence.py [--repo BUNDLE_OR_FOLDER ...] [--synthetic FILES] [--json]

For each workspace (by default the git bundles in ../shared/data/repos, cloned to a temporary
folder, plus a synthetic tree of --synthetic files of ~4 KB): the background priming read (the
whole tree, redacted, once per daemon start), a green run with a cold cache (no priming), a warm
green run (a stat walk), a failure after a one-line edit (walk + read + diff of the changed file),
a non-command event (the cost every other event pays), then CHURN_RUNS green runs of distinct
commands with one line edited before each, and the store's size on disk after them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from companion.events import Event
from companion.evidence.enrich import Enricher
from companion.evidence.snapshots import BlobStore
from companion.redact import Redactor
from watchers.ignore import IgnoreRules

ROOT = Path(__file__).resolve().parent.parent
CHURN_RUNS = 100
BUNDLES = next((p for p in (ROOT.parent / "shared" / "data" / "repos", ROOT.parent.parent / "shared" / "data" / "repos")
                if p.is_dir()), ROOT / "missing")


def _event(ws: Path, kind: str, data: dict) -> Event:
    return Event(source="shell" if kind.startswith("shell") else "file", kind=kind, workspace=str(ws), data=data)


def _timed(function, *args) -> tuple[float, object]:
    began = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - began, result


def _first_text_file(ws: Path, enricher: Enricher) -> Path | None:
    for path in sorted(enricher.snapshots.walk()):
        if path.endswith((".py", ".txt", ".md", ".c", ".js")) and (ws / path).stat().st_size > 200:
            return ws / path
    return None


def measure(ws: Path, scratch: Path) -> dict[str, object]:
    redactor = Redactor()
    rules = IgnoreRules(ws)
    ok = _event(ws, "shell.command", {"command": "python -m pytest -q", "exit_code": 0, "dir": "."})
    fail = _event(ws, "shell.command", {"command": "python -m pytest -q", "exit_code": 1, "dir": "."})
    other = _event(ws, "file.saved", {"path": "x.py"})
    cold = Enricher.for_workspace(ws, scratch / "cold", redactor, rules.is_ignored)
    cold.snapshots.read_budget_s = 1e9  # the whole tree, to measure it
    cold_s, _ = _timed(cold, ok)
    primed = Enricher.for_workspace(ws, scratch / "warm", redactor, rules.is_ignored)
    prime_s, files = _timed(primed.snapshots.prime)
    first_s, _ = _timed(primed, ok)
    warm_s, _ = _timed(primed, ok)
    target = _first_text_file(ws, primed)
    assert target is not None, f"no text file in {ws}"
    lines = target.read_text(errors="replace").splitlines(keepends=True)
    lines[len(lines) // 2] = "CHANGED = 1  # edited for the benchmark\n"
    target.write_text("".join(lines))
    fail_s, failed = _timed(primed, fail)
    other_s, _ = _timed(primed, other)
    suspects = failed.data["evidence"]["suspects"]  # type: ignore[attr-defined]
    churn_s, churn_max = _churn(ws, primed, target)
    blobs, size = BlobStore(scratch / "warm" / "blobs").size()
    text_bytes = sum((ws / p).stat().st_size for p in primed.snapshots.walk())
    return {"workspace": ws.name, "files": files, "text_mb": round(text_bytes / 2**20, 2),
            "prime_s": round(prime_s, 3), "green_cold_s": round(cold_s, 3), "green_after_prime_ms": round(first_s * 1e3, 1),
            "green_warm_ms": round(warm_s * 1e3, 1), "failure_ms": round(fail_s * 1e3, 1),
            "other_event_us": round(other_s * 1e6, 1), "suspects": len(suspects),
            "suspect": f"{suspects[0]['path']}:{suspects[0]['line']}" if suspects else None,
            "churn_green_ms": round(churn_s * 1e3, 1), "churn_max_ms": round(churn_max * 1e3, 1),
            "store_blobs": blobs, "store_mb": round(size / 2**20, 2)}


def _churn(ws: Path, enricher: Enricher, target: Path, runs: int = CHURN_RUNS) -> tuple[float, float]:
    """Many green runs of distinct commands, one line edited before each: mean and max cost."""
    costs = []
    for run in range(runs):
        with target.open("a") as handle:
            handle.write(f"# churn {run}\n")
        event = _event(ws, "shell.command", {"command": f"make step{run}", "exit_code": 0, "dir": "."})
        spent, _ = _timed(enricher, event)
        costs.append(spent)
    enricher.snapshots.prune(force=True)
    return sum(costs) / len(costs), max(costs)


def synthetic(folder: Path, count: int) -> Path:
    ws = folder / f"synthetic-{count}"
    for n in range(count):
        path = ws / f"pkg{n % 50}" / f"mod{n}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"def f{n}_{i}(x):\n    return x * {i} + {n}\n\n" for i in range(120)))
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", action="append", default=[], help="a git bundle or a folder (repeatable)")
    parser.add_argument("--synthetic", type=int, default=2000, help="files in the synthetic tree (0: none)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sources = [Path(r) for r in args.repo] or sorted(BUNDLES.glob("*.bundle"))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        workspaces = []
        for source in sources:
            ws = folder / source.stem
            if source.is_dir():
                shutil.copytree(source, ws, symlinks=True)
            else:
                subprocess.run(["git", "clone", "-q", str(source), str(ws)], check=True)
            workspaces.append(ws)
        if args.synthetic:
            workspaces.append(synthetic(folder, args.synthetic))
        for ws in workspaces:
            scratch = folder / "evidence" / ws.name
            os.makedirs(scratch)
            results.append(measure(ws, scratch))
    if args.json:
        print(json.dumps({"results": results}, indent=2))
        return
    for row in results:
        print(f"{row['workspace']}: {row['files']} files ({row['text_mb']} MB); prime {row['prime_s']} s, "
              f"cold green {row['green_cold_s']} s, green after prime {row['green_after_prime_ms']} ms, "
              f"warm green {row['green_warm_ms']} ms, failure {row['failure_ms']} ms "
              f"(suspect {row['suspect']}), other events {row['other_event_us']} µs; after {CHURN_RUNS} more greens "
              f"(one line edited before each: {row['churn_green_ms']} ms mean, {row['churn_max_ms']} ms max) "
              f"store {row['store_blobs']} blobs, {row['store_mb']} MB")


if __name__ == "__main__":
    main()
