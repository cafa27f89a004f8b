"""Helpers shared by the foundation benchmarks: import path, isolated homes, daemon processes,
and one way of printing figures (a table for people, `--json` for scripts)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    return parser


def machine() -> str:
    return f"{os.cpu_count()}-core {platform.machine()} CPU, Python {platform.python_version()}"


def isolated_env(home: Path) -> dict[str, str]:
    """The environment of a companion process that touches nothing of the user's (own COMPANION_HOME)."""
    env = os.environ.copy()
    env["COMPANION_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("HF_HUB_OFFLINE", "1")
    for name in [n for n in env if n.startswith("COMPANION_") and n not in ("COMPANION_HOME", "COMPANION_MODELS_DIR")]:
        del env[name]
    return env


def start_daemon(workspace: Path, home: Path, *extra: str) -> subprocess.Popen[bytes]:
    """`python -m companion run WORKSPACE --quiet` as the user runs it, in the background."""
    return subprocess.Popen([sys.executable, "-m", "companion", "run", str(workspace), "--quiet", *extra],
                            env=isolated_env(home), cwd=str(workspace), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_socket(workspace: Path, home: Path, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    os.environ["COMPANION_HOME"] = str(home)
    from companion import paths
    from companion.ipc import Client, IpcError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the daemon exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            with Client(paths.socket_file(workspace), timeout=2.0) as client:
                client.request("ping")
                return
        except IpcError:
            time.sleep(0.05)
    raise SystemExit("the daemon did not answer in time")


def stop_daemon(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def temp_home() -> Path:
    return Path(tempfile.mkdtemp(prefix="companion-bench-home-"))


def report(title: str, rows: list[tuple[str, Any, str, bool]], as_json: bool, extra: dict[str, Any] | None = None) -> int:
    """rows: (figure, measured, target, met). Returns the exit code: 0 when every target is met."""
    if as_json:
        print(json.dumps({"benchmark": title, "machine": machine(), "date": time.strftime("%Y-%m-%d"),
                          "load_average_1m": round(os.getloadavg()[0], 2),
                          "figures": [{"figure": f, "measured": m, "target": t, "met": ok} for f, m, t, ok in rows],
                          **(extra or {})}))
    else:
        print(f"{title} ({machine()}, load average {os.getloadavg()[0]:.1f})")
        for figure, measured, target, met in rows:
            print(f"  {figure:<38} {measured!s:>14}   target {target:<12} {'ok' if met else 'MISSED'}")
        for key, value in (extra or {}).items():
            print(f"  {key}: {value}")
    return 0 if all(ok for *_, ok in rows) else 1
