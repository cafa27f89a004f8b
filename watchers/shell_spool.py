"""Commands from the shell hooks: tail the shared spool file and keep this workspace's commands.

Every daemon reads the whole spool (several workspaces share it) with its own offsets in the Store,
so a command typed while this workspace's daemon was down is read when it starts, and a command
typed while it runs arrives within a poll interval. Commands whose working directory is outside
the workspace are skipped. Event ids are derived from the record, so reading a line twice (a
crash between storing and saving the offset) stores it once. A command's evidence (output tail,
test failures: `companion.shell.capture`) joins its event's data under `evidence` before the
pipeline redacts and stores it. Spool segments are sealed as soon as they are read and deleted once
every running daemon has read them (`companion.shell.spool`), so commands do not stay at rest.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from companion.events import Event
from companion.shell import capture, spool
from companion.shell.attribution import CommandFilter, event_id
from companion.shell.tail import Position, read_new
from watchers.base import WatchContext, Watcher

log = logging.getLogger(__name__)
POLL_S = 0.25
CLEANUP_EVERY_S = 5.0
HEARTBEAT_S = 60.0


class ShellSpoolWatcher(Watcher):
    name = "shell_spool"

    def __init__(self, context: WatchContext, directory: Path | None = None, poll_s: float = POLL_S,
                 rotate_bytes: int = spool.ROTATE_BYTES) -> None:
        super().__init__(context)
        self.directory = directory or spool.spool_dir()
        self.poll_s = poll_s
        self.rotate_bytes = rotate_bytes
        self.keep_s = context.config.shell.spool_keep_days * 86400
        self.workspace = str(context.workspace)
        self.filter = CommandFilter(context.workspace, context.config.shell.ignore_commands,
                                    lambda message: context.report_error(self.name, message))
        saved = context.store.get_state(self.workspace, spool.STATE_KEY, {}) if context.store else {}
        self.positions: dict[str, Position] = {}
        for key, raw in (saved.get("files") or {}).items() if isinstance(saved, dict) else ():
            position = Position.from_dict(raw)
            if position is not None:
                self.positions[key] = position
        self._hook_seen: set[str] = set()
        self._held: tuple[str, int] | None = None  # the live file content kept for a stopped daemon
        self._held_at = 0.0
        self.commands = 0
        self.skipped_outside = 0
        self.capture_mode = context.config.shell.capture_output
        self.pytest_report = context.config.tests.pytest_report

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> None:
        last_saved: dict[str, Any] = {}
        last_save_time = 0.0
        last_cleanup = 0.0
        pending = self._state()
        while True:
            try:
                self.poll()
            except Exception as exc:  # a broken line or file must not stop the next poll
                log.exception("shell spool poll failed")
                self.context.report_error(self.name, f"reading the spool failed: {exc}", str(self.directory))
            now = time.time()
            # save what the previous poll read, once the pipeline has committed its events
            if pending["files"] != last_saved.get("files") or now - last_save_time > HEARTBEAT_S:
                if self.context.flush(5.0):
                    self._save({**pending, "updated": now})
                    last_saved, last_save_time = pending, now
            pending = self._state()
            if now - last_cleanup > CLEANUP_EVERY_S:
                last_cleanup = now
                self._cleanup()
            if self.wait(self.poll_s):
                break
        self.poll()
        if self.context.flush(5.0):
            self._save({**self._state(), "updated": time.time()})

    def _state(self) -> dict[str, Any]:
        return {"files": {key: position.to_dict() for key, position in self.positions.items()}}

    def _save(self, state: dict[str, Any]) -> None:
        if self.context.store is not None:
            self.context.store.set_state(self.workspace, spool.STATE_KEY, state)

    def poll(self) -> int:
        """Read every spool file's new lines; returns the number of commands emitted."""
        emitted = 0
        present: dict[str, Position] = {}
        paths = spool.files(self.directory)
        for path in paths:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            key = spool.file_key(stat)
            old = self.positions.get(key)
            if old is not None and old.offset == stat.st_size:
                present[key] = old
                continue
            chunk = read_new(path, old)
            if chunk is None:
                continue
            emitted += self._ingest(chunk.data)
            present[spool.file_key_of(chunk.position)] = chunk.position
        self.positions = present
        self._maybe_rotate(paths[-1])
        return emitted

    def _maybe_rotate(self, live: Path) -> None:
        """Seal the live file once this reader has read all of it (so that it can be deleted soon).

        While it holds commands for a daemon that is not running, it grows instead (up to HOLD_BYTES),
        so that the commands waiting for that daemon sit in one file, not in one segment per read."""
        try:
            stat = live.stat()
        except FileNotFoundError:
            return
        mine = self.positions.get(spool.file_key(stat))
        if stat.st_size > max(self.rotate_bytes, 0) and mine is not None and mine.offset >= stat.st_size:
            held = (spool.file_key(stat), stat.st_size)
            if held == self._held and time.time() - self._held_at < HEARTBEAT_S:
                return  # decided for this very content already (re-checked now and then: a daemon may start)
            if stat.st_size <= spool.HOLD_BYTES and self.context.store is not None:
                stopped = spool.stopped_readers(self.context.store.state_entries(spool.STATE_KEY), self.keep_s)
                if spool.needed_by(live, stopped):
                    self._held, self._held_at = held, time.time()
                    return
            try:
                spool.rotate(self.directory, self.rotate_bytes)
            except OSError as exc:
                self.context.report_error(self.name, f"could not rotate the spool: {exc}", str(self.directory))

    def _ingest(self, data: bytes) -> int:
        emitted = 0
        for record in spool.parse_lines(data):
            if isinstance(record, spool.HelloRecord):
                self._note_hook(record)
                continue
            directory = self.filter.relative_dir(record.cwd)
            if directory is None:
                self.skipped_outside += 1
                continue
            if self.filter.ignored(record.command):
                capture.discard(record, self.directory)
                continue
            ts = record.ts  # a record without a time (fish where it has no clock) is stamped as it is read
            self._note_hook(spool.HelloRecord(record.shell, record.session, ts))
            data = {"command": record.command, "cwd": record.cwd, "dir": directory,
                    "exit_code": record.exit_code,
                    "duration_s": round(record.duration_s, 3) if record.duration_s is not None else None,
                    "shell": record.shell, "session": record.session,
                    "origin": "pty" if (record.flags or {}).get("pty") else "hook"}
            evidence = self._evidence(record)
            if evidence:
                data["evidence"] = evidence
            self.context.emit(Event(
                source="shell", kind="shell.command", workspace=self.workspace, ts=ts,
                # without a time, the command's id keeps a repeated command apart (and a line read twice one)
                id=event_id(self.workspace, record.session, record.start or record.end or record.command_id,
                            record.command),
                data=data))
            emitted += 1
            self.commands += 1
        return emitted

    def _evidence(self, record: spool.CommandRecord) -> dict[str, Any]:
        """Output and failures of a command; a bad file or a stuck tmux costs the evidence, never the event."""
        if record.command_id is None and not record.flags:
            return {}
        try:
            return capture.gather(record, self.directory, self.context.workspace, self.capture_mode, self.pytest_report)
        except Exception as exc:
            log.exception("gathering a command's evidence failed")
            self.context.report_error(self.name, f"could not read a command's output or test report: {exc}")
            capture.discard(record, self.directory)
            return {}

    def _note_hook(self, record: spool.HelloRecord) -> None:
        """Remember (for all workspaces) that this shell has the hook, so its history file is not read too."""
        if record.shell in self._hook_seen or self.context.store is None:
            return
        self._hook_seen.add(record.shell)
        seen = self.context.store.get_state("", spool.HOOK_SEEN_KEY, {}) or {}
        ts = record.ts or time.time()
        if not isinstance(seen, dict):
            seen = {}
        if record.shell not in seen or ts < float(seen[record.shell]):
            seen[record.shell] = ts
            self.context.store.set_state("", spool.HOOK_SEEN_KEY, seen)

    def _cleanup(self) -> None:
        if self.context.store is None:
            return
        try:
            readers = self.context.store.state_entries(spool.STATE_KEY)
            spool.remove_consumed(self.directory, readers, self.keep_s)
            spool.remove_stale_scratch(self.directory)
            spool.remove_orphans(self.directory)
        except OSError as exc:
            self.context.report_error(self.name, f"could not clean the spool: {exc}", str(self.directory))


def create(context: WatchContext) -> Watcher | None:
    return ShellSpoolWatcher(context)
