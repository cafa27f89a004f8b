"""Parsers for the history files of bash, zsh and fish, for users who do not load the hook.

Each parser takes raw bytes (history files are not reliably UTF-8: zsh "metafies" bytes, and any
shell stores whatever bytes were typed) and returns entries plus how many bytes it consumed, so a
tailer can leave an unfinished entry (a zsh line ending in a backslash, a bash timestamp whose
command has not been written yet) for the next read. No input makes a parser raise.

- bash: one command per line; with HISTTIMEFORMAT set, `#<epoch>` lines precede each entry and
  every line up to the next timestamp belongs to that entry (multi-line commands).
- zsh: `: <start>:<elapsed>;<command>` with EXTENDED_HISTORY, else bare lines; a line ending in a
  backslash continues on the next line; bytes 0x83 (Meta) mean "the next byte XOR 0x20".
- fish: YAML-like items `- cmd: ...` / `  when: <epoch>` / `  paths:` with `\\n` and `\\\\` escapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

META = 0x83
_BASH_TIME = re.compile(rb"#(\d{1,12})[ \t\r]*")
_ZSH_EXTENDED = re.compile(rb": *(\d{1,12}):(\d{1,12});(.*)", re.S)
_FISH_CMD = re.compile(rb"- cmd: ?(.*)")
_FISH_WHEN = re.compile(rb"\s+when: *(\d{1,12})\s*")
_FISH_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class HistoryEntry:
    command: str
    ts: float | None
    offset: int  # where the entry starts in the parsed bytes
    duration_s: float | None = None


Parser = Callable[[bytes], "tuple[list[HistoryEntry], int]"]


def text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


def unmetafy(raw: bytes) -> bytes:
    """Undo zsh's metafication: 0x83 followed by b stands for b ^ 0x20."""
    if META not in raw:
        return raw
    out = bytearray()
    meta = False
    for byte in raw:
        if meta:
            out.append(byte ^ 0x20)
            meta = False
        elif byte == META:
            meta = True
        else:
            out.append(byte)
    return bytes(out)


def _lines(data: bytes) -> list[tuple[int, bytes]]:
    """Complete lines with their start offsets (a last line without a newline is not complete)."""
    lines = []
    start = 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            return lines
        lines.append((start, data[start:end]))
        start = end + 1


def parse_bash(data: bytes) -> tuple[list[HistoryEntry], int]:
    entries: list[HistoryEntry] = []
    pending: tuple[int, float, list[bytes]] | None = None  # (offset, ts, lines) of a timestamped entry
    lines = _lines(data)

    def flush(entry: tuple[int, float, list[bytes]]) -> None:
        command = text(b"\n".join(entry[2]))
        if command.strip():
            entries.append(HistoryEntry(command, entry[1], entry[0]))

    for offset, line in lines:
        stamp = _BASH_TIME.fullmatch(line)
        if stamp:
            if pending is not None:
                flush(pending)
            pending = (offset, float(stamp.group(1)), [])
        elif pending is not None:
            pending[2].append(line)
        elif text(line).strip():
            entries.append(HistoryEntry(text(line), None, offset))
    if pending is not None:
        if not pending[2]:  # a timestamp whose command is not written yet: read it again next time
            return entries, pending[0]
        flush(pending)
    return entries, (lines[-1][0] + len(lines[-1][1]) + 1) if lines else 0


def parse_zsh(data: bytes) -> tuple[list[HistoryEntry], int]:
    entries: list[HistoryEntry] = []
    consumed = 0
    current: list[bytes] = []
    start = 0
    for offset, line in _lines(data):
        if not current:
            start = offset
        if line.endswith(b"\\") and not line.endswith(b"\\\\"):
            current.append(line[:-1])
            continue
        current.append(line)
        raw = unmetafy(b"\n".join(current))
        current = []
        consumed = offset + len(line) + 1
        match = _ZSH_EXTENDED.fullmatch(raw)
        if match:
            command = text(match.group(3))
            ts, elapsed = float(match.group(1)), float(match.group(2))
            if command.strip():
                entries.append(HistoryEntry(command, ts, start, elapsed))
        elif text(raw).strip():
            entries.append(HistoryEntry(text(raw), None, start))
    return entries, consumed


def _fish_unescape(value: str) -> str:
    return _FISH_ESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else "\\" if m.group(1) == "\\" else m.group(0), value)


def parse_fish(data: bytes) -> tuple[list[HistoryEntry], int]:
    entries: list[HistoryEntry] = []
    current: list = []  # [offset, command, ts]
    consumed = 0

    def flush() -> None:
        if current and current[1].strip():
            entries.append(HistoryEntry(current[1], current[2], current[0]))

    for offset, line in _lines(data):
        command = _FISH_CMD.fullmatch(line)
        if command:
            flush()
            current = [offset, _fish_unescape(text(command.group(1))), None]
        elif current:
            when = _FISH_WHEN.fullmatch(line)
            if when and current[2] is None:
                current[2] = float(when.group(1))
        consumed = offset + len(line) + 1
    flush()
    return entries, consumed


PARSERS: dict[str, Parser] = {"bash": parse_bash, "zsh": parse_zsh, "fish": parse_fish}


def guess_shell(name: str, head: bytes = b"") -> str:
    """Which shell wrote a history file, from its name or else its first bytes."""
    lowered = name.lower()
    for shell in ("zsh", "fish", "bash"):
        if shell in lowered:
            return shell
    if _ZSH_EXTENDED.match(head):
        return "zsh"
    if head.startswith(b"- cmd:"):
        return "fish"
    return "bash"
