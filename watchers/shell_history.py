"""Commands from shell history files, for shells that do not load the companion hook.

History files have no working directory and no exit status, so which workspace a command belongs
to is unknown: every workspace whose config enables `shell.history` receives the new history
entries as `shell.command` events with `origin: "history"`, `cwd`/`dir`/`exit_code` null. Only
entries written after the daemon first saw a file are read (no back-catalogue), and once a shell
has loaded the hook (the spool saw it start) that shell's history file is no longer used: the hook
already reports those commands, with their directory and outcome.

Files are tailed by polling their size: only the new part is read, truncation and rotation are
noticed by fingerprint, and a file rewritten by its shell (bash trims it to HISTFILESIZE on exit)
is resynchronised on the last entries seen, so nothing is reported twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from companion.events import Event
from companion.shell import spool
from companion.shell.attribution import CommandFilter, event_id
from companion.shell.history import PARSERS, HistoryEntry, guess_shell
from companion.shell.tail import Position, position_at, position_at_end, read_new
from watchers.base import WatchContext, Watcher

log = logging.getLogger(__name__)
POLL_S = 1.0
RECENT = 16  # fingerprints of the last entries, to resynchronise on a rewritten file
HOOK_MARGIN_S = 5.0


def default_history_files(environ: dict[str, str] | os._Environ = os.environ) -> list[Path]:
    home = Path(environ.get("HOME") or Path.home())
    zdot = Path(environ.get("ZDOTDIR") or home)
    data = Path(environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    found = [home / ".bash_history", zdot / ".zsh_history", zdot / ".zhistory", data / "fish" / "fish_history"]
    if environ.get("HISTFILE"):
        found.insert(0, Path(environ["HISTFILE"]).expanduser())
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def _digest(command: str) -> str:
    return hashlib.sha1(command.encode("utf-8", "replace")).hexdigest()[:16]


class HistoryFile:
    """One history file's tail state (persisted per workspace)."""

    def __init__(self, path: Path, shell: str | None, saved: Any) -> None:
        self.path = path
        self.shell = shell
        saved = saved if isinstance(saved, dict) else {}
        self.position = Position.from_dict(saved.get("position")) if saved.get("position") else None
        self.recent: list[str] = [str(d) for d in saved.get("recent", [])][-RECENT:]
        self.last_ts: float | None = saved.get("last_ts")
        self.known = bool(saved)
        self.signature: tuple[int, int, int, int] | None = None  # (dev, ino, size, mtime) at the last poll

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position.to_dict() if self.position else None, "recent": self.recent,
                "last_ts": self.last_ts, "shell": self.shell}

    def remember(self, entries: list[HistoryEntry]) -> None:
        self.recent = (self.recent + [_digest(e.command) for e in entries])[-RECENT:]
        stamps = [e.ts for e in entries if e.ts is not None]
        if stamps:
            self.last_ts = max(stamps + ([self.last_ts] if self.last_ts else []))

    def after_resync(self, entries: list[HistoryEntry]) -> list[HistoryEntry]:
        """The entries of a rewritten file that come after the last ones already seen."""
        digests = [_digest(e.command) for e in entries]
        best = -1
        for length in range(min(len(self.recent), 4), 0, -1):
            tail = self.recent[-length:]
            for index in range(len(digests) - length, -1, -1):
                if digests[index:index + length] == tail:
                    best = index + length
                    break
            if best >= 0:
                break
        if best >= 0:
            return entries[best:]
        if self.last_ts is not None:
            return [e for e in entries if e.ts is not None and e.ts > self.last_ts]
        return []


class ShellHistoryWatcher(Watcher):
    name = "shell_history"

    def __init__(self, context: WatchContext, files: list[Path] | None = None, poll_s: float = POLL_S) -> None:
        super().__init__(context)
        self.poll_s = poll_s
        self.workspace = str(context.workspace)
        self.filter = CommandFilter(context.workspace, context.config.shell.ignore_commands,
                                    lambda message: context.report_error(self.name, message))
        configured = [Path(p).expanduser() for p in context.config.shell.history_files]
        self.files = [HistoryFile(path, None, self._load(path)) for path in (configured or default_history_files())]

    def _state_key(self, path: Path) -> str:
        return f"shell.history:{path}"

    def _load(self, path: Path) -> Any:
        return self.context.store.get_state(self.workspace, self._state_key(path)) if self.context.store else None

    def _save(self, item: HistoryFile) -> None:
        if self.context.store is not None:
            self.context.store.set_state(self.workspace, self._state_key(item.path), item.to_dict())

    def run(self) -> None:
        while not self.stopping:
            for item in self.files:
                try:
                    self.poll_file(item)
                except Exception as exc:
                    log.exception("reading %s failed", item.path)
                    self.context.report_error(self.name, f"reading the history failed: {exc}", str(item.path))
            if self.wait(self.poll_s):
                break

    def poll_file(self, item: HistoryFile) -> int:
        """Read what was added to one file; returns the number of events emitted."""
        try:
            stat = item.path.stat()
        except OSError:
            if not item.known:  # absent at first sight: when it appears, all of it is new
                item.known = True
                self._save(item)
            return 0
        signature = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if signature == item.signature:
            return 0
        item.signature = signature
        if item.position is None:
            if not item.known:  # first sight: follow from the end, do not import the back-catalogue
                item.position = position_at_end(item.path)
                item.known = True
                self._save(item)
                return 0
        chunk = read_new(item.path, item.position)
        if chunk is None:
            return 0
        if item.shell is None:
            try:
                with open(item.path, "rb") as handle:
                    head = handle.read(64)
            except OSError:
                head = chunk.data[:64]
            item.shell = guess_shell(item.path.name, head)
        entries, consumed = PARSERS[item.shell](chunk.data)
        base = chunk.position.offset - len(chunk.data)
        new = item.after_resync(entries) if chunk.restarted else entries
        item.remember(entries)
        if consumed < len(chunk.data):  # an unfinished entry stays for the next read
            item.position = position_at(item.path, base + consumed) or chunk.position
        else:
            item.position = chunk.position
        emitted = self._emit(item, new, base)
        if not emitted or self.context.flush(5.0):  # the offset moves on only past committed commands
            self._save(item)
        return emitted

    def _hook_since(self, shell: str) -> float | None:
        if self.context.store is None:
            return None
        seen = self.context.store.get_state("", spool.HOOK_SEEN_KEY, {}) or {}
        value = seen.get(shell) if isinstance(seen, dict) else None
        return float(value) if isinstance(value, (int, float)) else None

    def _emit(self, item: HistoryFile, entries: list[HistoryEntry], base: int) -> int:
        hooked = self._hook_since(item.shell or "")
        emitted = 0
        for entry in entries:
            if hooked is not None and (entry.ts is None or entry.ts >= hooked - HOOK_MARGIN_S):
                continue  # the hook reports this shell's commands, with more detail
            if entry.command[:1].isspace() or self.filter.ignored(entry.command):
                continue
            self.context.emit(Event(
                source="shell", kind="shell.command", workspace=self.workspace,
                id=event_id(self.workspace, item.path, base + entry.offset, entry.command),
                **({"ts": entry.ts} if entry.ts is not None else {}),
                data={"command": entry.command, "cwd": None, "dir": None, "exit_code": None,
                      "duration_s": entry.duration_s, "shell": item.shell, "origin": "history",
                      "history_file": str(item.path)}))
            emitted += 1
        return emitted


def create(context: WatchContext) -> Watcher | None:
    if not context.config.shell.history:
        return None
    return ShellHistoryWatcher(context)
