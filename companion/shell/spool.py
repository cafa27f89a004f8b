"""The shell spool: one append-only file that every hooked shell writes and every daemon reads.

Why a file and not the socket: a shell prompt must not wait for (or start) Python, and commands
typed while no daemon runs must not be lost. The hooks append one line per command with shell
builtins (`O_APPEND`, one short write, so lines from concurrent shells do not interleave), and each
workspace's daemon tails the file, keeping its own offsets in the Store. The same path serves the
live case (the daemon polls a few times a second) and the offline case (a daemon starting later
reads what it has not read yet).

Line format, tab-separated, with backslash, newline, tab and carriage return escaped as
`\\\\ \\n \\t \\r` in the text fields:

    c1  SHELL  SESSION  START  END  DURATION_MS  EXIT  CWD  COMMAND             (a finished command)
    c2  SHELL  SESSION  START  END  DURATION_MS  EXIT  CWD  ID  FLAGS  COMMAND  (the same, with its id)
    h1  SHELL  SESSION  TIME  PID                                               (a shell loaded the hook)

c2's ID (`SESSION-N`) names the command's output file in the spool folder, `out-ID.json` (from
`companion shell`); FLAGS are space-separated `key=value` items (`pty=1`, `pane=%3 tmux=SOCKET`,
`junit=RID`: the JUnit report the hook asked pytest for is `pytest-RID.xml`, `junit=1` from older
hooks meaning RID = ID; `addopts=...`: the user's PYTEST_ADDOPTS, which names their own report).
Flag values are escaped like the text fields, and a space as `\\s`.

START/END are epoch seconds (fractional, `.` or `,` as decimal mark) and may be empty; fish gives
DURATION_MS instead of START (and no END where it has no clock short of starting a process: the
reader then takes the time it reads the record). Commands wait there unredacted, so the file holds
them only until they are read: a daemon that has read `shell.tsv` to its end renames it to a
sealed segment `shell.<ns>.tsv` (hooks then create a new `shell.tsv`), and a sealed segment is
deleted once every running daemon has read it, unless it holds a command for the workspace of a
daemon that is not running now (that one reads it when it starts), and in any case when it is
older than the keep time (a workspace whose daemon never comes back must not keep the spool
forever).
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from companion import paths

SPOOL_NAME = "shell.tsv"
SEGMENT = re.compile(r"^shell\.(\d+)\.tsv$")
ROTATE_BYTES = 0  # seal the live file as soon as a reader has read all of it...
HOLD_BYTES = 512 * 1024  # ...unless it holds commands for a stopped daemon: then grow it up to this
RUNNING_S = 180.0  # a reader whose state was saved this recently is a running daemon (it saves every minute)
ORPHAN_S = 600.0  # per-command files no daemon took within this are deleted
_COMMAND_ID = re.compile(r"^[A-Za-z0-9_-]{1,96}$")
OUTPUT_PREFIX, REPORT_PREFIX = "out-", "pytest-"
SCRATCH_PREFIX = ".bash-"  # bash's per-shell scratch file (its last history entry), see the bash hook
SCRATCH_MAX_AGE_S = 2 * 86400
SETTLE_S = 5.0  # a sealed segment may still receive a line from a shell that opened it before the rename
STATE_KEY = "shell.spool"  # per-workspace reader state in the Store
HOOK_SEEN_KEY = "shell.hook_seen"  # global (workspace "") {shell: first time a hooked shell started}
_ESCAPES = {"\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
_ESCAPE = re.compile(r"\\(.)", re.S)
_FLAG_ESCAPES = {**_ESCAPES, "s": " "}  # flags are space-separated: a space in a value is `\s`


@dataclass(frozen=True)
class CommandRecord:
    shell: str
    session: str
    command: str
    cwd: str
    exit_code: int | None
    start: float | None
    end: float | None
    duration_s: float | None
    command_id: str | None = None  # c2 records: names the command's output and report files
    flags: Mapping[str, str] | None = None

    @property
    def ts(self) -> float:
        if self.start is not None:
            return self.start
        end = self.end if self.end is not None else time.time()  # no time: it has just ended, as far as we know
        return end - (self.duration_s or 0.0)


@dataclass(frozen=True)
class HelloRecord:
    shell: str
    session: str
    ts: float | None


def spool_dir() -> Path:
    """The spool folder, private to the user (commands may hold secrets until they are redacted)."""
    path = paths.spool_dir()
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    return path


def unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if value == value and abs(value) < 1e12 else None  # no NaN, no absurd values


def _exit_code(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 6 else None


def parse_line(line: bytes) -> CommandRecord | HelloRecord | None:
    """One spool line (without its newline); None for anything malformed."""
    text = line.decode("utf-8", errors="replace").rstrip("\r")
    fields = text.split("\t")
    command_id, flags = None, None
    if fields[0] == "c2" and len(fields) >= 11:
        command_id = fields[8] if _COMMAND_ID.match(fields[8]) else None  # never a path
        flags = parse_flags(fields[9])
        fields = fields[:8] + fields[10:]
    if fields[0] in ("c1", "c2") and len(fields) >= 9:
        shell, session, start, end, duration_ms, status, cwd = fields[1:8]
        command = unescape("\t".join(fields[8:]))  # a stray raw tab stays inside the command
        start_s, end_s, dur_ms = _number(start), _number(end), _number(duration_ms)
        if dur_ms is not None:
            duration = dur_ms / 1000.0
        elif start_s is not None and end_s is not None:
            duration = max(0.0, end_s - start_s)
        else:
            duration = None
        if start_s is None and end_s is not None and duration is not None:
            start_s = end_s - duration
        if not command.strip():
            return None
        return CommandRecord(shell=shell[:16], session=session[:64], command=command, cwd=unescape(cwd),
                             exit_code=_exit_code(status), start=start_s, end=end_s, duration_s=duration,
                             command_id=command_id, flags=flags)
    if fields[0] == "h1" and len(fields) >= 4:
        return HelloRecord(shell=fields[1][:16], session=fields[2][:64], ts=_number(fields[3]))
    return None


def parse_flags(text: str) -> dict[str, str]:
    """`key=value key=value` (values escaped like the text fields, a space as `\\s`); anything else is ignored."""
    flags = {}
    for item in text.split(" "):
        key, sep, value = item.partition("=")
        if sep and key.isidentifier():
            flags[key] = _ESCAPE.sub(lambda m: _FLAG_ESCAPES.get(m.group(1), m.group(0)), value)[:4096]
    return flags


def report_id(record: CommandRecord) -> str | None:
    """The id naming the command's `pytest-RID.xml` (flag `junit`), None when pytest wrote none for it."""
    value = (record.flags or {}).get("junit")
    if value is None:
        return None
    if value == "1":  # older hooks: the report was named by the command's own id
        return record.command_id
    return value if _COMMAND_ID.match(value) else None


def command_file(directory: Path, prefix: str, command_id: str, suffix: str) -> Path:
    return directory / f"{prefix}{command_id}{suffix}"


def parse_lines(data: bytes) -> Iterable[CommandRecord | HelloRecord]:
    for line in data.split(b"\n"):
        if line:
            record = parse_line(line)
            if record is not None:
                yield record


def files(directory: Path) -> list[Path]:
    """Sealed segments, oldest first, then the live spool file (whether or not it exists yet)."""
    sealed = []
    try:
        for entry in os.scandir(directory):
            match = SEGMENT.match(entry.name)
            if match:
                sealed.append((int(match.group(1)), Path(entry.path)))
    except OSError:
        pass
    return [path for _, path in sorted(sealed)] + [directory / SPOOL_NAME]


def file_key(stat: os.stat_result) -> str:
    return f"{stat.st_dev}:{stat.st_ino}"


def file_key_of(position: Any) -> str:
    return f"{position.dev}:{position.ino}"


class _Locked:
    """An exclusive lock on the spool folder for rotation and clean-up (several daemons share it)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / ".lock"

    def __enter__(self) -> "_Locked":
        self.handle = open(self.path, "a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def rotate(directory: Path, max_bytes: int = ROTATE_BYTES) -> Path | None:
    """Seal the live file when it is larger than max_bytes; returns the new segment's path."""
    live = directory / SPOOL_NAME
    with _Locked(directory):
        try:
            if live.stat().st_size <= max_bytes:
                return None
        except FileNotFoundError:
            return None
        sealed = directory / f"shell.{time.time_ns()}.tsv"
        os.rename(live, sealed)
        try:
            os.close(os.open(live, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass  # a shell already started the new file
        return sealed


def _updated(state: Any) -> float:
    try:
        return float(state.get("updated", 0)) if isinstance(state, Mapping) else 0.0
    except (TypeError, ValueError):
        return 0.0


def _inside(cwd: str, workspace: str) -> bool:
    return cwd == workspace or cwd.startswith(workspace.rstrip("/") + "/")


def stopped_readers(readers: Mapping[str, Any], keep_s: float, now: float | None = None,
                    running_s: float = RUNNING_S) -> list[str]:
    """Workspaces whose daemon read the spool within keep_s but is not running now."""
    now = time.time() if now is None else now
    return [workspace for workspace, state in readers.items()
            if workspace and min(running_s, keep_s) <= now - _updated(state) < keep_s]


def needed_by(path: Path, workspaces: list[str]) -> bool:
    """Whether a segment holds a command typed inside one of `workspaces`."""
    if not workspaces:
        return False
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return any(isinstance(record, CommandRecord) and any(_inside(record.cwd, ws) for ws in workspaces)
               for record in parse_lines(data))


def remove_consumed(directory: Path, readers: Mapping[str, Any], keep_s: float, now: float | None = None,
                    running_s: float = RUNNING_S) -> list[Path]:
    """Delete sealed segments read to the end by every running reader (and needed by no stopped one),
    or older than keep_s.

    `readers` maps a workspace to its reader state ({"files": {key: {"offset": ...}}, "updated": ts}).
    A reader updated within running_s is running; one updated within keep_s but not running keeps the
    segments holding commands typed in its workspace; older readers hold nothing back.
    """
    now = time.time() if now is None else now
    active = [state for state in readers.values() if now - _updated(state) < min(running_s, keep_s)]
    stopped = stopped_readers(readers, keep_s, now, running_s)
    removed = []
    with _Locked(directory):
        for path in files(directory)[:-1]:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if now - stat.st_mtime < SETTLE_S:
                continue
            key = file_key(stat)
            consumed = all(int((state.get("files") or {}).get(key, {}).get("offset", -1)) >= stat.st_size
                           for state in active)
            if (consumed and not needed_by(path, stopped)) or now - stat.st_mtime > keep_s:
                try:
                    path.unlink()
                    removed.append(path)
                except FileNotFoundError:
                    pass
    return removed


def remove_stale_scratch(directory: Path, max_age_s: float = SCRATCH_MAX_AGE_S, now: float | None = None) -> list[Path]:
    """Delete bash scratch files not written for max_age_s (their shell has ended, or will recreate it)."""
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(SCRATCH_PREFIX):
            try:
                if now - entry.stat().st_mtime > max_age_s:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError:
                continue
    return removed


def remove_orphans(directory: Path, max_age_s: float = ORPHAN_S, now: float | None = None,
                   ready_age_s: float = SCRATCH_MAX_AGE_S) -> list[Path]:
    """Delete per-command output and report files that no daemon took (the command ran outside every
    running daemon's workspace, or its record never came: the shell was killed).

    An empty report file is one a shell made ready (0600) for its next pytest run and reuses until
    pytest writes it: it is kept like bash's scratch file, until ready_age_s after its shell made it."""
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith((OUTPUT_PREFIX, REPORT_PREFIX, "." + OUTPUT_PREFIX)):
            try:
                stat = entry.stat()
                ready = entry.name.startswith(REPORT_PREFIX) and stat.st_size == 0
                if now - stat.st_mtime > (ready_age_s if ready else max_age_s):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError:
                continue
    return removed
