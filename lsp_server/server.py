"""The language server object: one place holding the editor's state (settings, the proposals it
shows, the line to the daemon) and the presentation of proposals in the editor.

Threads: pygls runs the protocol on an asyncio loop; the daemon link calls back from its own
threads, and those callbacks are handed to the loop with `call_soon_threadsafe`, so all state
changes and every message to the editor happen on the loop's thread (stdout is never written
by two threads at once). Handlers for the LSP features live in `lsp_server.features`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path

from companion import __version__, paths
from companion.client import CONNECTED, DISCONNECTED, Client, Subscription
from companion.config import load_config, ConfigError
from companion.ipc import IpcError, IpcRefused
from companion.proposals import Proposal
from companion.shell.attribution import CommandFilter
from lsp_server import present, terminal
from lsp_server.activity import EditorActivity, document_path
from lsp_server.book import Entry, ProposalBook, visible
from lsp_server.settings import EditorSettings, updated

log = logging.getLogger("lsp_server")
PROPOSAL_NOTIFICATION = "companion/proposal"
STATUS_NOTIFICATION = "companion/status"
MAX_FILE_BYTES = 4_000_000
UNSENT_LIMIT = 500  # editor events kept while the daemon is away


class CompanionLanguageServer(LanguageServer):
    """`companion lsp`: surfaces the daemon's proposals and takes the editor's answers."""

    def __init__(self) -> None:
        super().__init__("companion", __version__)
        self.root: Path | None = None  # the workspace folder (pygls's `workspace` is its documents)
        self.settings = EditorSettings()
        self.book = ProposalBook()
        self.link: Subscription | None = None
        # how the user is asked about a proposal (a message with Accept/Reject/Snooze); features.py
        # plugs in answers.ask, so this module needs neither answers.py nor features.py
        self.ask_user: Callable[[Entry], Awaitable[None]] | None = None
        self.thresholds: dict[int, float] | None = None  # the daemon's gate's table (None: no gate)
        self.activity = EditorActivity(self.emit_events, self.call_later)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client_name = ""
        self.quiet_until: float | None = None
        self.link_state = "idle"
        self.link_message = ""
        self._published: set[str] = set()
        self._ever_connected = False
        self._asking: set[asyncio.Future[None]] = set()
        self._unsent: deque[dict[str, Any]] = deque(maxlen=UNSENT_LIMIT)
        self.commands: CommandFilter | None = None  # which terminal commands belong to the workspace
        self.capture_output = "failed"  # [shell] capture_output: the output kept with a terminal command

    # -- life cycle ---------------------------------------------------------------------------
    def attach(self, root: Path, client_name: str, options: Any) -> None:
        """Called on `initialize`: the workspace, the client, and the initial settings."""
        self.loop = asyncio.get_running_loop()
        self.root = paths.workspace_root(root)
        self.client_name = client_name
        try:
            config = load_config(self.root)
        except ConfigError as exc:
            config = None
            log.warning("companion's config cannot be read (%s); using defaults", exc)
        base = EditorSettings.from_config(config) if config is not None else EditorSettings()
        ignore = config.shell.ignore_commands if config is not None else []
        self.commands = CommandFilter(self.root, ignore, lambda message: log.warning("%s", message))
        mode = getattr(config.shell, "capture_output", "failed") if config is not None else "failed"
        self.capture_output = mode if mode in terminal.CAPTURE_MODES else "failed"
        self.apply_settings(options, base)
        self.activity.editor = client_name

    def start_link(self) -> None:
        assert self.root is not None
        self.link = Subscription(self.root, ("proposal", "config"), on_message=self._threadsafe(self.on_daemon_message),
                                 on_state=self._threadsafe(self.on_link_state), snapshot=snapshot,
                                 start_daemon=self.settings.start_daemon, name="lsp-daemon-link")
        self.link.start()

    def stop_link(self) -> None:
        self.activity.flush()
        if self.link is not None:
            self.link.stop()

    def _threadsafe(self, function: Callable[..., None]) -> Callable[..., None]:
        def call(*args: Any) -> None:
            loop = self.loop
            if loop is not None and not loop.is_closed():
                try:
                    loop.call_soon_threadsafe(function, *args)
                except RuntimeError:
                    pass  # the loop closed while the editor went away
        return call

    def call_later(self, delay: float, function: Callable[[], None]) -> Any:
        if self.loop is None:
            return None
        return self.loop.call_later(delay, function)

    @property
    def via(self) -> str:
        if self.settings.via:
            return self.settings.via
        name = self.client_name.lower()
        if "code" in name:
            return "vscode"
        if "vim" in name:
            return "nvim"
        return "lsp"

    # -- settings -----------------------------------------------------------------------------
    def apply_settings(self, raw: Any, base: EditorSettings | None = None) -> None:
        before = self.settings
        self.settings = updated(base or self.settings, raw)
        self.activity.flush_s = self.settings.edit_flush_s
        for problem in self.settings.errors:
            self.show(types.MessageType.Warning, f"Companion setting ignored: {problem}")
        if self.link is not None:
            self.link.start_daemon = self.settings.start_daemon
            if self.settings.daemon_updates() != before.daemon_updates():
                self.push_daemon_settings()
            self.present_all()

    def push_daemon_settings(self) -> None:
        updates = self.settings.daemon_updates()
        if updates and self.link is not None and self.link.connected:
            self.in_background(lambda: self.link.request("configure", settings=updates), "configure the daemon")

    # -- the daemon's side ----------------------------------------------------------------------
    def on_link_state(self, state: str, message: str, details: dict[str, Any]) -> None:
        self.link_state, self.link_message = state, message
        if state == CONNECTED:
            snap = details.get("snapshot") or {}
            self.thresholds = gate_table(snap.get("status") or {})
            current = [Proposal.from_dict(raw) for raw in snap.get("proposals", [])]
            current = [p for p in current if p.surfaced and p.status == "open"]
            for entry in self.book.entries():  # answered while we were away
                if entry.proposal.id not in {p.id for p in current}:
                    self.book.remove(entry.proposal.id)
            for proposal in current:  # known ones keep when they were shown and whether we asked
                self.book.add(proposal)
            if self._ever_connected:
                self.show(types.MessageType.Info, "Companion reconnected to its daemon.")
            self._ever_connected = True
            log.info("%s", message)
            self.push_daemon_settings()
            self.emit_events([])
            self.present_all()
            return
        elif state == DISCONNECTED and not details.get("repeated"):
            self.show(types.MessageType.Warning, f"Companion: {message}. Proposals pause until it is back.")
        self.send_status()

    def on_daemon_message(self, message: dict[str, Any]) -> None:
        if message.get("topic") == "config":  # a live setting changed: the gate may be another one
            self.in_background(self.reload_thresholds, "read the gate's thresholds")
            return
        if message.get("topic") != "proposal" or not isinstance(message.get("proposal"), dict):
            return
        proposal = Proposal.from_dict(message["proposal"])
        if proposal.surfaced and proposal.status == "open":
            entry = self.book.add(proposal)
            self.refresh({proposal.path} if proposal.path else set())
            self.notify_proposal(proposal, message.get("change", "new"))
            self.maybe_ask(entry)
        else:
            removed = self.book.remove(proposal.id)
            if removed is not None:
                self.refresh({removed.proposal.path} if removed.proposal.path else set())
                self.notify_proposal(proposal, message.get("change", "answered"))
        self.send_status()

    # -- showing proposals --------------------------------------------------------------------
    @property
    def quiet(self) -> bool:
        return self.quiet_until is not None and time.time() < self.quiet_until

    def reload_thresholds(self) -> None:
        """Runs off the loop (in_background); the new table is applied on the loop."""
        if self.link is None:
            return
        table = gate_table(self.link.request("status").get("status") or {})

        def apply() -> None:
            if table != self.thresholds:
                self.thresholds = table
                self.present_all()
        self._threadsafe(apply)()

    def shows(self, proposal: Proposal) -> bool:
        return not self.quiet and visible(proposal, self.settings.interruption_level, self.thresholds)

    def uri_of(self, path: str) -> str:
        assert self.root is not None
        return from_fs_path(str(self.root / path)) or (self.root / path).as_uri()

    def path_of(self, uri: str) -> str | None:
        return document_path(uri, self.root) if self.root is not None else None

    def document_text(self, path: str) -> str | None:
        """The text the editor has (open documents) or else the file on disk."""
        uri = self.uri_of(path)
        document = self.workspace_documents().get(unquote(uri))
        if document is not None:
            return document.source
        file = self.root / path if self.root else None
        try:
            if file is not None and file.is_file() and file.stat().st_size <= MAX_FILE_BYTES:
                return file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        return None

    def workspace_documents(self) -> dict[str, Any]:
        try:
            return self.protocol.workspace.text_documents
        except RuntimeError:  # pygls has no workspace before `initialize`
            return {}

    def diagnostics_for(self, path: str) -> list[types.Diagnostic]:
        entries = [e for e in self.book.for_path(path) if self.shows(e.proposal)]
        if not entries or not self.settings.diagnostics:
            return []
        text = self.document_text(path)
        lines = text.splitlines() if text is not None else None
        capabilities = self.client_capabilities.text_document
        related = bool(capabilities and capabilities.publish_diagnostics
                       and capabilities.publish_diagnostics.related_information)
        uri = self.uri_of(path)
        return [present.diagnostic(e.proposal, uri, lines, self.settings.diagnostic_severity, related)
                for e in entries]

    def refresh(self, changed: set[str] | None = None) -> None:
        """Publish the diagnostics of the changed paths (all of them by default)."""
        if self.root is None:
            return
        targets = (self.book.paths() | self._published) if changed is None else changed
        for path in targets:
            diagnostics = self.diagnostics_for(path)
            if not diagnostics and path not in self._published:
                continue
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=self.uri_of(path), diagnostics=diagnostics))
            (self._published.add if diagnostics else self._published.discard)(path)

    def notify_proposal(self, proposal: Proposal, change: str) -> None:
        self.protocol.notify(PROPOSAL_NOTIFICATION, {
            "proposal": proposal.to_dict(), "change": change, "visible": self.shows(proposal),
            "uri": self.uri_of(proposal.path) if proposal.path else None})

    def open_count(self) -> int:
        return sum(1 for e in self.book.entries()
                   if visible(e.proposal, self.settings.interruption_level, self.thresholds))

    def status(self) -> dict[str, Any]:
        return {"state": self.link_state, "message": self.link_message,
                "workspace": str(self.root) if self.root else None,
                "daemon": self.link.daemon if self.link and self.link.connected else None,
                "open": self.open_count(), "snoozedUntil": self.quiet_until if self.quiet else None,
                "settings": self.settings.to_dict()}

    def send_status(self) -> None:
        self.protocol.notify(STATUS_NOTIFICATION, self.status())

    def maybe_ask(self, entry: Entry) -> None:
        """A message with Accept/Reject/Snooze, for proposals the editor would otherwise not show
        where the user looks (see `show_message`)."""
        proposal = entry.proposal
        mode = self.settings.show_message
        if entry.asked or mode == "off" or self.ask_user is None or not self.shows(proposal):
            return
        elsewhere = not proposal.path or proposal.path != self.activity.focused_path
        if mode == "always" or elsewhere:
            entry.asked = True
            task = asyncio.ensure_future(self.ask_user(entry))
            self._asking.add(task)  # a reference keeps the task alive until the user answers
            task.add_done_callback(self._asking.discard)

    def present_all(self) -> None:
        """Show everything as the current settings say (after a reconnect, a settings change, a snooze)."""
        self.refresh()
        for entry in self.book.entries():
            self.maybe_ask(entry)
        self.send_status()

    def set_quiet(self, minutes: float | None) -> None:
        """Snooze every proposal in this editor for a while (None: stop snoozing)."""
        self.quiet_until = time.time() + minutes * 60 if minutes else None
        if minutes and self.loop is not None:
            self.loop.call_later(minutes * 60 + 0.1, self._quiet_over)
        self.present_all()

    def _quiet_over(self) -> None:
        if self.quiet_until is not None and not self.quiet:
            self.quiet_until = None
            self.present_all()

    # -- talking to the user and the daemon ----------------------------------------------------
    def show(self, kind: types.MessageType, message: str) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def in_background(self, call: Callable[[], Any], what: str) -> None:
        """Run a blocking daemon request off the loop; failures are logged, never raised."""
        if self.loop is None:
            return

        def run() -> None:
            try:
                call()
            except IpcError as exc:
                log.info("could not %s: %s", what, exc)
            except Exception:
                log.exception("could not %s", what)

        self.loop.run_in_executor(None, run)

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        if self.link is None:
            raise IpcError("the language server is not initialised yet")
        assert self.loop is not None
        return await self.loop.run_in_executor(None, lambda: self.link.request(op, **fields))

    def terminal_command(self, params: dict[str, Any]) -> None:
        """A command finished in VS Code's integrated terminal (the extension's shell integration route)."""
        if self.commands is None:
            return
        event = terminal.command_event(params, self.commands, self.capture_output)
        if event is not None:
            self.emit_events([event])

    def emit_events(self, events: list[dict[str, Any]]) -> None:
        """Send editor events; while no daemon answers they wait (the newest UNSENT_LIMIT of them).
        The daemon acknowledges an emit once the events are committed; a batch whose emit was lost
        (the connection failed, or no answer came in time) goes back to wait, and its ids make a
        resend store it once. A batch the daemon answered with an error is dropped with a log line:
        sent again, it would be refused again, forever."""
        self._unsent.extend({"id": uuid.uuid4().hex, **event} for event in events)
        link = self.link
        if link is None or not link.connected:
            return
        batch, self._unsent = list(self._unsent), deque(maxlen=UNSENT_LIMIT)
        if not batch:
            return
        requeue = self._threadsafe(self._requeue)

        def send() -> None:
            try:
                link.request("emit", events=batch)
            except IpcRefused as exc:
                log.warning("the companion daemon refused %d editor event(s), which are dropped: %s", len(batch), exc)
            except IpcError:
                requeue(batch)
                raise

        self.in_background(send, "report editor activity")

    def _requeue(self, batch: list[dict[str, Any]]) -> None:
        waiting = list(self._unsent)
        self._unsent = deque(batch + waiting, maxlen=UNSENT_LIMIT)


def snapshot(client: Client) -> dict[str, Any]:
    """What the server rebuilds from after each (re)connect: open proposals and the gate's table."""
    return {"proposals": client.request("proposals", statuses=["open"], surfaced=True, limit=500).get("proposals", []),
            "status": client.request("status").get("status", {})}


def gate_table(status: dict[str, Any]) -> dict[int, float] | None:
    """The daemon's gate's thresholds by interruption level, from its status; None when it has no gate."""
    gate = status.get("gate")
    table = gate.get("thresholds") if isinstance(gate, dict) else None
    if not isinstance(table, dict):
        return None
    try:
        return {int(level): float(value) for level, value in table.items()}
    except (TypeError, ValueError):
        return None


class EditorPipe:
    """The stream to the editor. When the editor is gone (a broken pipe), writing stops quietly and
    the server exits shortly after, instead of logging a traceback for every message it had left."""

    def __init__(self, stream: Any, server: CompanionLanguageServer, grace_s: float = 3.0) -> None:
        self.stream = stream
        self.server = server
        self.grace_s = grace_s
        self.gone = False

    def write(self, data: bytes) -> None:
        if self.gone:
            return
        try:
            self.stream.write(data)
            self.stream.flush()
        except (BrokenPipeError, ValueError, OSError):
            self._lost()

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self._lost()

    def close(self) -> None:
        try:
            self.stream.close()
        except (BrokenPipeError, ValueError, OSError):
            pass

    def _lost(self) -> None:
        self.gone = True
        log.warning("the editor closed the connection; companion lsp stops")

        def leave() -> None:
            threading.Event().wait(self.grace_s)  # normally stdin's end-of-file has ended us by now
            self.server.stop_link()
            os._exit(0)

        threading.Thread(target=leave, name="editor-gone", daemon=True).start()


class LspLogHandler(logging.Handler):
    """Forwards log records to the editor as `window/logMessage`, from whichever thread."""

    LEVELS = {logging.ERROR: types.MessageType.Error, logging.WARNING: types.MessageType.Warning,
              logging.INFO: types.MessageType.Info}

    def __init__(self, server: CompanionLanguageServer, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        loop = self.server.loop
        if loop is None or loop.is_closed():
            return
        kind = self.LEVELS.get(record.levelno, types.MessageType.Log)
        params = types.LogMessageParams(type=kind, message=self.format(record))
        try:
            loop.call_soon_threadsafe(self.server.window_log_message, params)
        except RuntimeError:
            pass
