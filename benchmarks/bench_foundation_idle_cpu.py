"""Idle cost: CPU used by a real `companion run` process over 30 s with nothing happening.

A git repository with some history is generated in a temporary folder, then
`python -m companion run PATH --quiet` starts exactly as a user starts it (whatever watchers and
services that includes on this branch). Once its socket answers and a few seconds of start-up
have passed, the CPU time of the process and of the children it waited for (git subprocesses)
is read from /proc before and after the quiet window. Target: < 1% of one core.

    python benchmarks/bench_foundation_idle_cpu.py [--json] [--seconds 30]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _foundation_common import arguments, report, start_daemon, stop_daemon, temp_home, wait_for_socket

TARGET_PERCENT = 1.0


def make_repository(root: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "bench@example.com")
    git("config", "user.name", "Bench")
    (root / ".gitignore").write_text("node_modules/\n")
    for commit in range(5):
        for i in range(40):
            folder = root / "src" / f"pkg{i % 8}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"mod{i}.py").write_text(f"def f{i}():\n    return {commit}\n")
        git("add", "-A")
        git("commit", "-qm", f"commit {commit}")
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "node_modules" / "dep" / "index.js").write_text("module.exports = 1;\n")


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of start-up not counted")
    args = parser.parse_args()
    repo = Path(tempfile.mkdtemp(prefix="companion-bench-idle-")).resolve()
    home = temp_home()
    try:
        make_repository(repo)
        process = start_daemon(repo, home)
        try:
            wait_for_socket(repo, home, process)
            time.sleep(args.settle)
            from companion import paths
            from companion.ipc import Client

            with Client(paths.socket_file(repo)) as client:
                status = client.request("status")["status"]
            before, began = cpu_seconds(process.pid), time.monotonic()
            time.sleep(args.seconds)
            used, elapsed = cpu_seconds(process.pid) - before, time.monotonic() - began
        finally:
            stop_daemon(process)
    finally:
        shutil.rmtree(repo, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    percent = 100.0 * used / elapsed
    return report("Idle CPU of `companion run`", [
        (f"CPU over {elapsed:.0f} s idle (% of a core)", round(percent, 3), f"< {TARGET_PERCENT}%", percent < TARGET_PERCENT),
    ], args.json, {"cpu_seconds": round(used, 3), "watchers": status.get("watchers"),
                   "services": status.get("services")})


if __name__ == "__main__":
    raise SystemExit(main())
