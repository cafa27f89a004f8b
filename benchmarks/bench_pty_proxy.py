"""What `companion shell` costs: output throughput and keystroke-echo latency, with and without it.

The same interactive bash (hook loaded) runs in two pseudo-terminals at once, one directly and one
under the real `companion shell` proxy; this script plays both terminals and interleaves the
measurements, so that both see the same load on the machine.
- throughput: a burst of output (`seq`, about 20 MB by default) from typing the command to the next
  prompt; reported as the ratio without/with (target >= 0.9);
- keystroke echo: one key at a time into `cat` (the pty's own echo), with a pause between keys as
  in typing (so the proxy is asleep when a key comes, as it would be), time until it shows; the
  figure is the proxy's added p95 (target <= 2 ms). On a loaded machine this is mostly the time the
  scheduler takes to wake the proxy.
Run:
    PYTHONPATH=. python benchmarks/bench_pty_proxy.py [--lines 3000000] [--keys 400] [--pause-ms 20] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from companion.cli.shell_init import hook_script  # noqa: E402
from tests.shell.pty_shell import PtyShell  # noqa: E402

PROXY = [sys.executable, "-m", "companion", "shell", "--"]
THROUGHPUT_TARGET = 0.9
LATENCY_TARGET_MS = 2.0


def read_until(fd: int, needle: bytes, timeout: float = 300.0) -> int:
    """Read everything until `needle` shows; returns the bytes read. Only the end is searched."""
    deadline = time.monotonic() + timeout
    total, carry = 0, b""
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError(f"{needle!r} not seen")
        chunk = os.read(fd, 65536)
        total += len(chunk)
        window = carry + chunk
        if needle in window:
            return total
        carry = window[-len(needle):]


def burst_seconds(sh: PtyShell, lines: int) -> float:
    sh.prompts += 1
    marker = f"<<ready-{sh.prompts}>>".encode()
    started = time.perf_counter()
    os.write(sh.fd, f"seq 1 {lines}\r".encode())
    read_until(sh.fd, marker)
    return time.perf_counter() - started


def start_cat(sh: PtyShell) -> None:
    os.write(sh.fd, b"cat > /dev/null\r")
    time.sleep(0.5)
    while select.select([sh.fd], [], [], 0.1)[0]:
        os.read(sh.fd, 65536)


def echo_ms(sh: PtyShell, key: bytes) -> float:
    started = time.perf_counter()
    os.write(sh.fd, key)
    read_until(sh.fd, key, timeout=10)
    return (time.perf_counter() - started) * 1000


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def measure(home: Path, cwd: Path, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Both shells at once, their measurements interleaved, so that both see the same machine load."""
    rc = "HISTCONTROL=ignoreboth\n" + hook_script("bash")
    with PtyShell("bash", rc, home / "direct", cwd, timeout=120) as direct, \
            PtyShell("bash", rc, home / "proxied", cwd, timeout=120, wrapper=PROXY) as proxied:
        shells = {"direct": direct, "proxied": proxied}
        for sh in shells.values():
            burst_seconds(sh, args.lines // 10)  # warm-up
        bursts: dict[str, list[float]] = {name: [] for name in shells}
        for _ in range(args.rounds):
            for name, sh in shells.items():
                bursts[name].append(burst_seconds(sh, args.lines))
        for sh in shells.values():
            start_cat(sh)
        echoes: dict[str, list[float]] = {name: [] for name in shells}
        for n in range(args.keys):
            key = b"abcdefghij"[n % 10:n % 10 + 1]
            for name, sh in (shells.items() if n % 2 else reversed(shells.items())):
                echoes[name].append(echo_ms(sh, key))
                time.sleep(args.pause_ms / 1000)
            if n % 50 == 49:
                for sh in shells.values():
                    os.write(sh.fd, b"\r")
                    read_until(sh.fd, b"\n", timeout=10)
        for sh in shells.values():
            os.write(sh.fd, b"\x04")
            sh.wait_prompt()
    return {name: {"burst_s": statistics.median(bursts[name]), "echo_p50_ms": statistics.median(echoes[name]),
                   "echo_p95_ms": p95(echoes[name])} for name in shells}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=3_000_000, help="lines of the output burst (seq 1 N)")
    parser.add_argument("--keys", type=int, default=400)
    parser.add_argument("--pause-ms", type=float, default=20.0, help="time between keystrokes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        os.environ["COMPANION_HOME"] = str(root / "companion")
        (root / "work").mkdir()
        figures = measure(root / "home", root / "work", args)
        direct, proxied = figures["direct"], figures["proxied"]
    megabytes = sum(len(str(n)) + 1 for n in range(1, args.lines + 1)) / 1e6
    result = {
        "burst_mb": round(megabytes, 1),
        "direct_mb_s": round(megabytes / direct["burst_s"], 1),
        "proxied_mb_s": round(megabytes / proxied["burst_s"], 1),
        "throughput_ratio": round(direct["burst_s"] / proxied["burst_s"], 3),
        "echo_p95_direct_ms": round(direct["echo_p95_ms"], 3),
        "echo_p95_proxied_ms": round(proxied["echo_p95_ms"], 3),
        "echo_p95_added_ms": round(proxied["echo_p95_ms"] - direct["echo_p95_ms"], 3),
        "echo_p50_added_ms": round(proxied["echo_p50_ms"] - direct["echo_p50_ms"], 3),
        "load_average": round(os.getloadavg()[0], 2),
    }
    result["throughput_ok"] = result["throughput_ratio"] >= THROUGHPUT_TARGET
    result["latency_ok"] = result["echo_p95_added_ms"] <= LATENCY_TARGET_MS
    if args.json:
        print(json.dumps(result))
    else:
        print(f"output burst of {result['burst_mb']} MB: {result['direct_mb_s']} MB/s direct, "
              f"{result['proxied_mb_s']} MB/s under companion shell: ratio {result['throughput_ratio']} "
              f"(target >= {THROUGHPUT_TARGET})")
        print(f"keystroke echo p95: {result['echo_p95_direct_ms']} ms direct, {result['echo_p95_proxied_ms']} ms "
              f"proxied: +{result['echo_p95_added_ms']} ms (target <= {LATENCY_TARGET_MS} ms)")
        print(f"load average {result['load_average']}")
    return 0 if result["throughput_ok"] and result["latency_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
