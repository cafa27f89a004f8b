"""What the git watcher costs on a big repository: idle CPU, one poll, one `git status`, and the
delay from a commit to its event.

    python benchmarks/bench_gitwatch_idle.py [--files 100000] [--idle 30] [--keep DIR] [--json]

The repository is generated (files in nested folders, one commit) in a temporary folder, or in
DIR with --keep (reused when it exists, so a second run skips the slow `git add`). The watcher
runs with the default settings (poll every 2 s, dirty-tree report after 30 minutes). Idle CPU
counts this process and the git commands it ran (children), over --idle seconds of no activity.
Target: the whole daemon idles below 1% of a core, so the git watcher's share must be far below.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from companion.config import Config  # noqa: E402
from companion.redact import Redactor  # noqa: E402
from watchers.base import WatchContext  # noqa: E402
from watchers.git_watcher import STATUS_CPU_SHARE, create  # noqa: E402

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=GIT_ENV).stdout


def build_repo(root: Path, files: int) -> None:
    if (root / ".git").is_dir():
        return
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    for i in range(files):
        folder = root / f"pkg{i // 10000}" / f"mod{(i // 100) % 100}"
        if i % 100 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{i}.py").write_text(f"VALUE = {i}\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "Generated tree")


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle measurement")
    parser.add_argument("--keep", type=Path, help="build (or reuse) the repository here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root = (args.keep or Path(scratch) / "repo").resolve()
        started = time.monotonic()
        build_repo(root, args.files)
        build_s = time.monotonic() - started

        events = []
        context = WatchContext(workspace=root, config=Config(), emit=events.append, redactor=Redactor())
        watcher = create(context)
        assert watcher is not None, context.notes

        t0 = time.perf_counter()
        rounds = 200
        for _ in range(rounds):
            watcher.fingerprint.take()
            watcher.fingerprint.exists()
        poll_us = (time.perf_counter() - t0) / rounds * 1e6

        t0 = time.perf_counter()
        watcher.reader.status()
        status_s = time.perf_counter() - t0

        watcher.start()
        while watcher._last_status == float("-inf"):  # the baseline includes a first `git status`
            time.sleep(0.05)
        time.sleep(0.5)
        cpu0, wall0 = cpu_seconds(), time.monotonic()
        time.sleep(args.idle)
        idle_cpu = (cpu_seconds() - cpu0) / (time.monotonic() - wall0) * 100
        # `git status` rarely falls inside the idle window: its long-run share is its CPU cost over its spacing
        status_cpu = watcher._status_cost
        status_every = max(watcher._status_interval, status_cpu / STATUS_CPU_SHARE)

        (root / "bench-change.txt").write_text(str(time.time()))
        git(root, "add", "bench-change.txt")
        before = len(events)
        t0 = time.monotonic()
        git(root, "commit", "-qm", "Benchmark commit")
        while not any(e.kind == "git.commit" for e in events[before:]) and time.monotonic() - t0 < 30:
            time.sleep(0.01)
        commit_latency = time.monotonic() - t0
        watcher.stop()
        git(root, "reset", "-q", "--hard", "HEAD~1")

    figures = {
        "files": args.files, "build_s": round(build_s, 1), "poll_us": round(poll_us, 1),
        "git_status_s": round(status_s, 3), "idle_cpu_percent_of_core": round(idle_cpu, 3),
        "idle_seconds": args.idle, "commit_to_event_s": round(commit_latency, 2),
        "poll_interval_s": Config().watch.git_poll_seconds, "git_status_cpu_s": round(status_cpu, 3),
        "git_status_every_s": round(status_every, 1),
        "git_status_cpu_percent_of_core": round(status_cpu / status_every * 100, 3),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"repository: {args.files} files (built in {figures['build_s']} s)")
        print(f"one poll (stat of the git directory): {figures['poll_us']} µs")
        print(f"one `git status` (dirty-tree check; spaced to use <= 0.25% of a core): {figures['git_status_s']} s")
        print(f"idle CPU over {args.idle:.0f} s: {figures['idle_cpu_percent_of_core']}% of a core")
        print(f"`git status` for the dirty-tree check: {figures['git_status_cpu_s']} s of CPU every "
              f"{figures['git_status_every_s']} s = {figures['git_status_cpu_percent_of_core']}% of a core on average")
        print(f"commit to event: {figures['commit_to_event_s']} s (poll every {figures['poll_interval_s']} s)")


if __name__ == "__main__":
    main()
