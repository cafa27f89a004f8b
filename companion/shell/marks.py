"""Command boundaries in a terminal's output stream: OSC 133 (and VS Code's 633) semantic marks.

The companion hooks print `ESC ] 133 ; C BEL` when a command starts writing output and
`ESC ] 133 ; D ; STATUS BEL` when it has finished (with `;cid=ID` under `companion shell`, naming the
command's spool record). `MarkTracker` follows those marks in the bytes the pty proxy passes
through, keeps each command's output (C to D) in a bounded ring buffer, and at D writes the tail of
a command that should be kept to `out-ID.json` in the private spool folder, where the daemon
takes it with the record. It only observes: the proxy forwards every byte unchanged, marks included.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from companion.evidence.output import OutputTail
from companion.shell.spool import OUTPUT_PREFIX, command_file

_OSC = b"\x1b]"
_MAX_MARK = 256  # a mark longer than this is not one of ours
_COMMAND_ID = re.compile(rb"^[A-Za-z0-9_-]{1,96}$")


class MarkTracker:
    """Feed it everything the shell prints; it writes out-ID.json for finished commands worth keeping."""

    def __init__(self, directory: Path, mode: str = "failed") -> None:
        self.directory = directory
        self.mode = mode  # [shell] capture_output: failed | all | off
        self.pending = b""  # the start of a mark split across reads
        self.output: OutputTail | None = None  # the running command's output, between C and D
        self.marks = 0
        self.written: list[Path] = []

    def feed(self, data: bytes) -> None:
        if self.mode == "off":
            return
        buf = self.pending + data if self.pending else data
        self.pending = b""
        pos = 0
        while True:
            start = buf.find(_OSC, pos)
            if start < 0:
                cut = len(buf) - 1 if buf.endswith(b"\x1b") else len(buf)  # a mark may begin with the next read
                self._keep(buf, pos, cut)
                self.pending = buf[cut:]
                return
            end = _terminator(buf, start)
            if end is None:
                if len(buf) - start < _MAX_MARK:
                    self._keep(buf, pos, start)
                    self.pending = buf[start:]
                    return
                end = start + 2  # not a mark we know: pass on
                self._keep(buf, pos, end)
                pos = end
                continue
            body = buf[start + 2:end[0]]
            self._keep(buf, pos, start)
            if body[:4] in (b"133;", b"633;"):
                self._mark(body[4:])
            elif self.output is not None:
                self.output.feed(buf[start:end[1]])  # another escape: stripped later with the rest
            pos = end[1]

    def _keep(self, buf: bytes, start: int, end: int) -> None:
        if self.output is not None and end > start:
            self.output.feed(buf[start:end])

    def _mark(self, body: bytes) -> None:
        self.marks += 1
        kind, _, rest = body.partition(b";")
        if kind == b"C":
            self.output = OutputTail()
        elif kind == b"A":
            self.output = None  # a prompt without D: whatever ran is not a command's output
        elif kind == b"D":
            output, self.output = self.output, None
            params = rest.split(b";")
            status = int(params[0]) if params and params[0].isdigit() else None
            command_id = next((p[4:] for p in params[1:] if p.startswith(b"cid=")), None)
            if output is None or command_id is None or not _COMMAND_ID.match(command_id):
                return
            if self.mode == "all" or (self.mode == "failed" and status not in (0, None)):
                self._write(command_id.decode("ascii"), output, status)

    def _write(self, command_id: str, output: OutputTail, status: int | None) -> None:
        evidence = output.evidence("pty")
        evidence["exit_code"] = status
        path = command_file(self.directory, OUTPUT_PREFIX, command_id, ".json")
        temporary = self.directory / f".{path.name}.{os.getpid()}.tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(evidence, handle)
            os.replace(temporary, path)  # the daemon never sees half a file
            self.written.append(path)
        except OSError:
            try:
                temporary.unlink()
            except OSError:
                pass


def _terminator(buf: bytes, start: int) -> tuple[int, int] | None:
    """(end of the OSC body, end of the sequence) for an OSC at `start`: BEL or ESC backslash ends it."""
    limit = min(len(buf), start + 2 + _MAX_MARK)
    bel = buf.find(b"\x07", start + 2, limit)
    st = buf.find(b"\x1b\\", start + 2, limit)
    if bel < 0 and st < 0:
        return None
    if st < 0 or (0 <= bel < st):
        return bel, bel + 1
    return st, st + 2
