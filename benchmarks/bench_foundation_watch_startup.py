"""Watch start-up: seconds until the file watcher watches a 100,000-file tree, and peak memory.

The tree (generated in a temporary folder) is a git repository with 40,000 kept files in
1,000 folders and 60,000 git-ignored ones: 30,000 under `node_modules/` and 30,000 under a
`generated/` folder that only the repository's `.gitignore` excludes. What is measured is what
the user runs: a `companion run PATH --no-engine --quiet` process, from its spawn until its log
says the file watcher is watching (the watcher logs the line after its walk), and the process's
peak resident memory (VmHWM) at that moment; the median of --repeat starts (default 3) counts.
Targets: ≤ 3 s and ≤ 200 MB.

    python benchmarks/bench_foundation_watch_startup.py [--json] [--keep]
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _foundation_common import arguments, report, start_daemon, stop_daemon, temp_home

KEPT_DIRS, IGNORED_DIRS, FILES_PER_DIR = 400, 600, 100
TARGET_S, TARGET_MB = 3.0, 200.0


def generate(root: Path) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("generated/\n*.log\n")
    body = "def handler(event):\n    return event\n" * 5
    for d in range(KEPT_DIRS):
        folder = root / "src" / f"pkg{d // 20}" / f"mod{d}"
        folder.mkdir(parents=True)
        for f in range(FILES_PER_DIR):
            (folder / f"file{f}.py").write_text(body)
    for d in range(IGNORED_DIRS):
        top = "node_modules" if d % 2 == 0 else "generated"
        folder = root / top / f"dep{d // 10}" / f"lib{d}"
        folder.mkdir(parents=True)
        for f in range(FILES_PER_DIR):
            (folder / f"index{f}.js").write_text("module.exports = 1;\n")


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(tree: Path) -> dict[str, float]:
    home = temp_home()
    try:
        os.environ["COMPANION_HOME"] = str(home)
        from companion import paths

        log_file = paths.data_dir() / "logs" / f"daemon-{paths.workspace_key(tree)}.log"
        began = time.monotonic()
        process = start_daemon(tree, home, "--no-engine")
        pattern = re.compile(r"file watcher: (\d+) folders, (\d+) files watched in ([0-9.]+) s")
        match = None
        while match is None:
            if process.poll() is not None:
                raise SystemExit(f"companion run exited: {process.stderr.read().decode() if process.stderr else ''}")
            if time.monotonic() - began > 120:
                raise SystemExit("the file watcher did not report watching within 120 s")
            if log_file.exists():
                match = pattern.search(log_file.read_text(errors="replace"))
            if match is None:
                time.sleep(0.01)
        elapsed = time.monotonic() - began
        rss = peak_rss_mb(process.pid)
        stop_daemon(process)
        return {"seconds_until_watching": elapsed, "peak_rss_mb": rss, "walk_s": float(match.group(3)),
                "folders_watched": int(match.group(1)), "files_seen": int(match.group(2))}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--keep", metavar="DIR", help="generate the tree in DIR (reused when it exists)")
    parser.add_argument("--repeat", type=int, default=3, help="start companion this many times; the median counts")
    args = parser.parse_args()
    if args.keep:
        tree = Path(args.keep).resolve()
        if not (tree / ".gitignore").exists():
            tree.mkdir(parents=True, exist_ok=True)
            generate(tree)
    else:
        tree = Path(tempfile.mkdtemp(prefix="companion-bench-tree-")).resolve()
        generate(tree)
    try:
        runs = [measure(tree) for _ in range(max(1, args.repeat))]
        runs.sort(key=lambda run: run["seconds_until_watching"])
        figures = runs[len(runs) // 2]
    finally:
        if not args.keep:
            shutil.rmtree(tree, ignore_errors=True)
    total = (KEPT_DIRS + IGNORED_DIRS) * FILES_PER_DIR
    return report("Watch start-up (companion run --no-engine)", [
        ("seconds until watching", round(figures["seconds_until_watching"], 2), f"<= {TARGET_S} s",
         figures["seconds_until_watching"] <= TARGET_S),
        ("peak RSS (MB)", round(figures["peak_rss_mb"], 1), f"<= {TARGET_MB:.0f} MB", figures["peak_rss_mb"] <= TARGET_MB),
    ], args.json, {"tree": f"{total} files, {IGNORED_DIRS * FILES_PER_DIR} git-ignored",
                   "runs_s": [round(run["seconds_until_watching"], 2) for run in runs],
                   "walk_s": round(figures["walk_s"], 3), "folders_watched": figures["folders_watched"],
                   "files_seen": figures["files_seen"]})


if __name__ == "__main__":
    raise SystemExit(main())
