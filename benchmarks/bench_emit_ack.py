"""Emit throughput over the socket, counting only acknowledgements that mean "committed".

A real daemon (`companion run --no-engine`) in a temporary home; a client sends `emit` requests
over the Unix socket the way the language server and the benchmarks' bursts do:

- pipelined: N requests of one event each, written without waiting, replies read as they come;
- batched: the same N events in requests of 100;
- one at a time: each request waits for its reply before the next is sent (the latency).

Each rate is measured from the first byte sent to the last reply read, and again to the moment
the store holds every event of the burst; the store is checked afterwards: every acknowledged
event must be in it. An acknowledgement is sent only after the
event's batch is committed (see docs/architecture.md, "Acknowledged means committed"), so the
pipelined rate is what a client gets with that guarantee. No target: it is compared before and
after changes (the figure in docs/benchmarks.md).

    python benchmarks/bench_emit_ack.py [--json] [--events N]
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path

from _foundation_common import arguments, report, start_daemon, stop_daemon, temp_home, wait_for_socket


def _event(i: int) -> dict:
    return {"id": uuid.uuid4().hex, "source": "editor", "kind": "editor.opened",
            "data": {"path": f"src/module_{i % 50}.py", "language": "python"}}


def _lines(requests: list[dict]) -> bytes:
    return b"".join((json.dumps(r) + "\n").encode() for r in requests)


def stored_count(workspace: Path) -> int:
    from companion import paths
    from companion.store import Store

    with Store(paths.database_file()) as store:
        return store.count_events(str(workspace))


def until_stored(workspace: Path, count: int, began: float) -> float:
    """Seconds from `began` until the store holds `count` events of the workspace."""
    while stored_count(workspace) < count:
        time.sleep(0.005)
    return time.perf_counter() - began


def pipelined(socket_path: Path, requests: list[dict]) -> tuple[float, int, float]:
    """Send every request without waiting; (seconds until the last reply, events acknowledged,
    the moment the burst began)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(socket_path))
    payload = _lines(requests)
    began = time.perf_counter()
    writer = threading.Thread(target=sock.sendall, args=(payload,), daemon=True)
    writer.start()
    acked = 0
    replies = 0
    with sock.makefile("rb") as reader:
        for line in reader:
            reply = json.loads(line)
            if "id" not in reply:
                continue
            replies += 1
            if reply.get("ok"):
                acked += int(reply.get("accepted", 0))
            if replies == len(requests):
                break
    elapsed = time.perf_counter() - began
    writer.join()
    sock.close()
    return elapsed, acked, began


def one_at_a_time(socket_path: Path, requests: list[dict]) -> tuple[float, int]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(socket_path))
    acked = 0
    began = time.perf_counter()
    with sock.makefile("rb") as reader:
        for request in requests:
            sock.sendall(_lines([request]))
            reply = json.loads(reader.readline())
            acked += int(reply.get("accepted", 0)) if reply.get("ok") else 0
    elapsed = time.perf_counter() - began
    sock.close()
    return elapsed, acked


def main() -> int:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--serial-events", type=int, default=500, help="events sent one request at a time")
    parser.add_argument("--wait", action="store_true", help="send the old `wait: true` field (before the change)")
    args = parser.parse_args()
    home = temp_home()
    workspace = home / "ws"
    workspace.mkdir()
    process = start_daemon(workspace, home, "--no-engine")
    extra = {"wait": True} if args.wait else {}
    try:
        wait_for_socket(workspace, home, process)
        from companion import paths

        socket_path = paths.socket_file(workspace)
        base = stored_count(workspace)
        single = [{"id": i, "op": "emit", "events": [_event(i)], **extra} for i in range(args.events)]
        seconds_single, acked_single, began = pipelined(socket_path, single)
        early = max(0, acked_single - (stored_count(workspace) - base))  # acknowledged before being stored
        stored_single = until_stored(workspace, base + args.events, began)
        events = [_event(i) for i in range(args.events)]
        batched = [{"id": i, "op": "emit", "events": events[i:i + 100], **extra} for i in range(0, len(events), 100)]
        seconds_batched, acked_batched, began = pipelined(socket_path, batched)
        early += max(0, acked_batched - (stored_count(workspace) - base - args.events))
        stored_batched = until_stored(workspace, base + 2 * args.events, began)
        serial = [{"id": i, "op": "emit", "events": [_event(i)], **extra} for i in range(args.serial_events)]
        seconds_serial, acked_serial = one_at_a_time(socket_path, serial)
    finally:
        stop_daemon(process)
        shutil.rmtree(home, ignore_errors=True)
    rows = [
        ("pipelined, 1 event per emit (acks/s)", round(acked_single / seconds_single), "report", True),
        ("  the same, until all stored (events/s)", round(args.events / stored_single), "report", True),
        ("pipelined, 100 per emit (acks/s)", round(acked_batched / seconds_batched), "report", True),
        ("  the same, until all stored (events/s)", round(args.events / stored_batched), "report", True),
        ("one at a time (ms per emit)", round(1000 * seconds_serial / max(1, len(serial)), 2), "report", True),
        ("acknowledged before stored (at the last ack)", early, "0", early == 0),
    ]
    return report("Emit throughput with committed acknowledgements", rows, args.json,
                  {"events": args.events, "wait_field": bool(args.wait),
                   "acknowledged": acked_single + acked_batched + acked_serial})


if __name__ == "__main__":
    raise SystemExit(main())
