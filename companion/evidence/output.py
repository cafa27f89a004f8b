"""What a command printed, made fit to keep: ANSI stripped, bounded, never the whole stream.

Why one module: the pty proxy (`companion shell`), the tmux route and the VS Code route all turn a
terminal's bytes into the same `evidence.output` dict, and the short-summary parser reads the same
text. Terminal output is hostile input (binary, invalid UTF-8, escape sequences, progress bars
redrawn with carriage returns, gigabytes from a `cat`), so everything here is bounded and total:
no input raises.
"""

from __future__ import annotations

import re
from typing import Any

MAX_LINES = 200
MAX_BYTES = 64 * 1024
RAW_KEEP = MAX_BYTES  # raw bytes a ring buffer keeps: never more text than the tail may hold
RAW_LIMIT = 2 * RAW_KEEP  # ...cut back to RAW_KEEP whenever it holds more than this
ALIGN = 1024  # a cut moves at most this far on to the next line start
ROUTES = ("pty", "tmux", "vscode")

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC strings, two-byte escapes, and
# the 8-bit C1 forms of CSI and OSC
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x9d[^\x07\x9c]*[\x07\x9c]?"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]")
_BACKSPACE = re.compile(r"[^\n\x08]\x08")
_ESCAPE_BYTES = re.compile(_ANSI.pattern.split("|\\x9b", 1)[0].encode("ascii"))  # the ESC forms, for raw bytes


def decode(data: bytes | str) -> str:
    """Text from terminal bytes; bytes that are not UTF-8 become U+FFFD, never an error."""
    return data if isinstance(data, str) else data.decode("utf-8", errors="replace")


def strip_ansi(text: str) -> str:
    """Plain text as a reader saw it: escape sequences removed, `\\r` redraws resolved to the last
    redraw of each line, backspaces applied, other control characters dropped."""
    text = _ANSI.sub("", text)
    if "\x08" in text:
        for _ in range(8):  # "ab\b\bcd": each pass removes one character per backspace
            text, count = _BACKSPACE.subn("", text)
            if not count:
                break
    text = text.replace("\r\n", "\n")
    if "\r" in text:
        text = "\n".join(line.rsplit("\r", 1)[-1] if "\r" in line else line for line in text.split("\n"))
    return _CONTROL.sub("", text)


def bounded_tail(text: str, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES) -> tuple[str, bool]:
    """The last `max_lines` lines of `text`, at most `max_bytes` of UTF-8; and whether anything was cut."""
    text = text.rstrip("\n")
    lines = text.split("\n")
    cut = len(lines) > max_lines
    if cut:
        lines = lines[-max_lines:]
    tail = "\n".join(lines)
    encoded = tail.encode("utf-8")
    if len(encoded) > max_bytes:
        cut = True
        tail = encoded[-max_bytes:].decode("utf-8", errors="ignore")
        newline = tail.find("\n")
        if 0 <= newline < len(tail) - 1:
            tail = tail[newline + 1:]  # start at a whole line
    return tail, cut


def output_evidence(data: bytes | str, route: str, total_bytes: int | None = None, total_lines: int | None = None,
                    dropped: bool = False) -> dict[str, Any]:
    """The `evidence.output` dict for what a command printed (`data` may be only its tail)."""
    raw = data.encode("utf-8", errors="replace") if isinstance(data, str) else data
    tail, cut = bounded_tail(strip_ansi(decode(raw)))
    return {"tail": tail,
            "lines": total_lines if total_lines is not None else raw.count(b"\n") + (1 if raw and not raw.endswith(b"\n") else 0),
            "bytes": total_bytes if total_bytes is not None else len(raw),
            "truncated": bool(cut or dropped),
            "route": route if route in ROUTES else "pty"}


def clean_cut(data: bytes | bytearray, cut: int) -> int:
    """Where to cut the raw bytes before `cut` off so that the rest strips as it would have whole: at
    the next line start (within ALIGN bytes, and in the first half of what is left), else past the
    escape sequence or the UTF-8 character that `cut` falls into."""
    if cut <= 0:
        return 0
    newline = data.find(b"\n", cut - 1, cut + min(ALIGN, (len(data) - cut) // 2))
    if newline >= 0:
        return newline + 1
    escape = data.rfind(b"\x1b", max(0, cut - ALIGN), cut)
    if escape >= 0:
        match = _ESCAPE_BYTES.match(data, escape)
        if match is not None and match.end() > cut:
            cut = match.end()
    for _ in range(3):  # UTF-8 continuation bytes: the rest of a character whose start is cut off
        if cut < len(data) and 0x80 <= data[cut] < 0xC0:
            cut += 1
    return cut


class OutputTail:
    """A ring buffer of one command's raw output: counts everything, keeps the last RAW_KEEP bytes
    (it holds up to `limit`, RAW_LIMIT, between cuts), cut at line starts (`clean_cut`).

    Feeding is a few C-level operations per chunk, so the pty proxy can call it on every read.
    """

    __slots__ = ("buffer", "bytes", "newlines", "keep", "limit", "dropped", "last_byte")

    def __init__(self, keep: int = RAW_KEEP, limit: int = RAW_LIMIT) -> None:
        self.buffer = bytearray()
        self.keep = keep
        self.limit = max(limit, keep)
        self.bytes = 0
        self.newlines = 0
        self.dropped = False
        self.last_byte = b""

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.bytes += len(chunk)
        self.newlines += chunk.count(b"\n")
        self.last_byte = chunk[-1:]
        self.buffer += chunk
        if len(self.buffer) > self.limit:
            del self.buffer[: clean_cut(self.buffer, len(self.buffer) - self.keep)]
            self.dropped = True

    @property
    def lines(self) -> int:
        return self.newlines + (1 if self.bytes and self.last_byte != b"\n" else 0)

    def evidence(self, route: str = "pty") -> dict[str, Any]:
        cut = clean_cut(self.buffer, len(self.buffer) - self.keep)
        return output_evidence(bytes(self.buffer[cut:]), route, total_bytes=self.bytes,
                               total_lines=self.lines, dropped=self.dropped or cut > 0)
