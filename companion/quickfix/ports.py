"""Address already in use: which process holds the port (its pid and command line), and the same
command on a free port when the port is in the command line. Nothing is ever killed."""

from __future__ import annotations

import re
import socket
from typing import Iterator

from companion.quickfix.base import Candidate, Moment, rule

IN_USE = re.compile(r"address already in use|EADDRINUSE|Errno 98|Errno 48|port \d+ is (?:already )?in use"
                    r"|Only one usage of each socket address", re.IGNORECASE)
PORT_IN_TEXT = re.compile(r"(?:EADDRINUSE[^\n]*?:|port |address already in use[^\n]*?:|\(|:)(?P<port>\d{2,5})\b", re.IGNORECASE)
PORT_IN_COMMAND = re.compile(r"(?:--port[= ]|-p[= ]?|--bind[= ]\S*:|:)(?P<port>\d{2,5})\b|\b(?P<bare>\d{4,5})\b")


def _port(moment: Moment) -> int | None:
    for line in moment.lines_matching(IN_USE, limit=5):
        for match in PORT_IN_TEXT.finditer(line):
            port = int(match.group("port"))
            if 0 < port < 65536:
                return port
    for match in PORT_IN_COMMAND.finditer(moment.command):
        port = int(match.group("port") or match.group("bare"))
        if 0 < port < 65536:
            return port
    return None


def holder(port: int) -> tuple[int, str] | None:
    """(pid, command line) of the process listening on `port`, when this user may see it."""
    try:
        import psutil

        for conn in psutil.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                try:
                    command = " ".join(psutil.Process(conn.pid).cmdline()) or psutil.Process(conn.pid).name()
                except (psutil.Error, OSError):
                    command = "?"
                return conn.pid, command[:200]
    except Exception:  # no permission to list sockets, psutil missing: say what we know
        return None
    return None


def free_port(near: int) -> int | None:
    for port in range(near + 1, min(near + 50, 65535)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    return None


@rule("ports.in_use")
def port_in_use(moment: Moment) -> Iterator[Candidate]:
    """Address already in use: show who holds the port; offer the command on a free port."""
    lines = moment.lines_matching(IN_USE)
    port = _port(moment) if lines else None
    if port is None:
        return
    held = holder(port)
    who = f"pid {held[0]} (`{held[1]}`)" if held else "another process"
    text = f"Port {port} is held by {who}. Stop that process yourself if it is an old run, or use another port."
    why = {"output_lines": lines, "port": port, "pid": held[0] if held else None, "process": held[1] if held else None}
    other = free_port(port)
    if other is not None and str(port) in moment.command:
        fixed = moment.command.replace(str(port), str(other))
        yield Candidate("", f"Port {port} is in use by {who}; run on port {other} instead", "run_command",
                        response=fixed, evidence={**why, "explanation": text}, confidence=0.75)
    yield Candidate("", f"Port {port} is already in use by {who}", "explain", response=text, evidence=why,
                    confidence=0.7 if held else 0.55)
