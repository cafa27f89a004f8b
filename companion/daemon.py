"""One daemon per workspace: it owns the watchers, the pipeline, the store and the socket.

Clients (CLI, TUI, LSP server) attach over the socket and start the daemon when none runs.
A lock file makes a second `companion run` on the same workspace say where the first one is.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from companion import __version__, paths
from companion.config import Config, ConfigError, load_config
from companion.events import Event
from companion.ipc import Connection, Deferred, IpcError, IpcServer
from companion.pipeline import Pipeline
from companion.outcomes import OutcomeRecorder
from companion.proposals import Proposal
from companion.redact import Redactor
from companion.render import render
from companion.store import Store
from companion.workspace_guard import BACK, CHOICES, MISSING, WorkspaceGuard
from watchers import build as build_watchers
from watchers.base import WatchContext, Watcher

log = logging.getLogger(__name__)
EXTERNAL_SOURCES = ("shell", "editor", "tests")


class AlreadyRunning(RuntimeError):
    """Another daemon holds this workspace's lock."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        super().__init__(f"companion is already running for {info.get('workspace')} "
                         f"(pid {info.get('pid')}, socket {info.get('socket')}); "
                         "use `companion tui` or `companion events` to attach to it")


def event_payload(event: Event) -> dict[str, Any]:
    """An event as clients receive it: its fields plus the rendered sentence."""
    return {**event.to_dict(), "text": render(event)}


class WorkspaceLock:
    """An flock on the workspace's lock file, with the holder's pid and socket inside."""

    def __init__(self, workspace: Path) -> None:
        self.path = paths.lock_file(workspace)
        self.workspace = workspace
        self._handle: Any = None

    def acquire(self, info: dict[str, Any]) -> None:
        handle = open(paths.private_file(self.path), "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            try:
                holder = json.loads(handle.read() or "{}")
            except ValueError:
                holder = {}
            handle.close()
            raise AlreadyRunning(holder or {"workspace": str(self.workspace)}) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(info))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


class Daemon:
    """The workspace's daemon. `start()` returns once everything runs; `stop()` is idempotent."""

    def __init__(self, workspace: str | os.PathLike[str], config: Config | None = None, store: Store | None = None,
                 services: bool = True, watcher_names: set[str] | None = None) -> None:
        self.workspace = paths.workspace_root(workspace)
        if not self.workspace.is_dir():
            raise FileNotFoundError(f"workspace {self.workspace} is not a folder")
        self.config = config or load_config(self.workspace)
        if self.config.general.on_workspace_missing not in CHOICES:
            raise ConfigError(f"general.on_workspace_missing is {self.config.general.on_workspace_missing!r}; "
                              f"choose one of {', '.join(CHOICES)}")
        self.store = store or Store()
        self.redactor = Redactor(self.config.redaction.patterns, self.config.redaction.entropy,
                                 self.config.redaction.secret_files)
        self.enricher = _enricher(self.workspace, self.config, self.redactor)
        self.pipeline = Pipeline(self.store, self.redactor, enrich=self.enricher)
        self.socket_path = paths.socket_file(self.workspace)
        self.server = IpcServer(self.socket_path, self._handle)
        self.lock = WorkspaceLock(self.workspace)
        self.handlers: dict[str, Callable[[dict[str, Any], Connection], dict[str, Any]]] = {}
        self.status_providers: list[Callable[[], dict[str, Any]]] = []
        self.watchers: list[Watcher] = []
        self.guard = WorkspaceGuard(self.workspace, self._workspace_changed)
        self.services: list[Any] = []
        self.notes: list[str] = []
        self.started = 0.0
        self._with_services = services
        self._watcher_names = watcher_names
        self._stopped = threading.Event()  # stop() has begun
        self._finished = threading.Event()  # stop() has released everything
        self._start_done = threading.Event()  # start() has returned or failed
        self._stop_lock = threading.Lock()
        self._register_core_handlers()

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        self.started = time.time()
        try:
            self.lock.acquire({"pid": os.getpid(), "socket": str(self.socket_path), "workspace": str(self.workspace),
                               "started": self.started, "version": __version__})
        except BaseException:
            # Another daemon owns this workspace: this one never started, so a later stop() must not
            # touch anything (above all, not unlink the other daemon's socket).
            self._stopped.set()
            self._finished.set()
            self._start_done.set()
            raise
        try:
            repaired = paths.make_private()  # an install from before files were private
            self.store.prune(self.config.general.max_age_days)
            if self.enricher is not None:
                self.enricher.start()
                self.status_providers.append(self.enricher.status)
            self.pipeline.start()
            self.pipeline.subscribe(lambda event: self.publish("event", {"event": event_payload(event)}))
            self.watchers, self.notes = self._build_watchers()
            if repaired:
                note = (f"made {repaired} of companion's files and folders private (0600/0700); "
                        "other local users could read them before")
                log.warning("%s", note)
                self.notes.insert(0, note)
            if self._with_services:
                self._start_services()
            # the first event of the session, before any client or watcher can submit one
            self.pipeline.submit(Event(source="companion", kind="companion.started", workspace=str(self.workspace),
                                       data={"workspace": str(self.workspace),
                                             "watchers": [w.name for w in self.watchers],
                                             "notes": list(self.notes)}))
            self.server.start()  # after the services, so every socket operation exists once clients can connect
            for watcher in self.watchers:
                watcher.start()
            self.guard.start()
        except BaseException:
            self.stop()
            raise
        finally:
            self._start_done.set()

    def _start_services(self) -> None:
        from companion.services import discover

        for name, factory in discover():
            try:
                service = factory(self)
            except Exception as exc:
                log.exception("service %s could not be created", name)
                self.notes.append(f"{name}: could not start: {exc}")
                continue
            if service is None:
                continue
            try:
                service.start()
                self.services.append(service)
            except Exception as exc:
                log.exception("service %s could not start", name)
                self.notes.append(f"{name}: could not start: {exc}")

    def stop(self, reason: str = "") -> None:
        with self._stop_lock:
            if self._stopped.is_set():
                return
            self._stopped.set()
        self.guard.stop()
        self._stop_watchers()
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception:
                log.exception("stopping %s failed", getattr(service, "name", service))
        if self.started:
            self.pipeline.submit(Event(source="companion", kind="companion.stopped", workspace=str(self.workspace),
                                       data={"workspace": str(self.workspace), "reason": reason}))
        self.pipeline.flush(5.0)
        self.pipeline.stop()
        if self.enricher is not None:
            self.enricher.stop()
        self.server.stop()
        self.lock.release()
        self._finished.set()

    def _build_watchers(self) -> tuple[list[Watcher], list[str]]:
        context = WatchContext(workspace=self.workspace, config=self.config, emit=self.pipeline.submit,
                               redactor=self.redactor, on_error=self._watcher_error, store=self.store,
                               flush=self.pipeline.flush)
        return build_watchers(context, self._watcher_names), context.notes

    def _stop_watchers(self) -> None:
        watchers, self.watchers = self.watchers, []
        for watcher in watchers:
            try:
                watcher.stop()
            except Exception:
                log.exception("stopping %s failed", watcher.name)

    def _workspace_changed(self, change: str) -> None:
        """The guard saw the workspace folder go (or come back): say so once, then stop or wait."""
        if self._stopped.is_set():
            return
        waits = self.config.general.on_workspace_missing == "wait"
        if change == MISSING:
            then = ("companion stops watching it until the folder is back (general.on_workspace_missing = "
                    '"wait")' if waits else "the daemon stops")
            message = f"the workspace {self.workspace} was deleted or moved away; {then}"
            log.warning("%s", message)
            self.notes.append(message)
            self.pipeline.submit(Event(source="companion", kind="companion.workspace_missing",
                                       workspace=str(self.workspace),
                                       data={"workspace": str(self.workspace), "then": "wait" if waits else "stop"}))
            if waits:
                self._stop_watchers()
            else:
                threading.Thread(target=self.stop, args=("the workspace folder was deleted or moved away",),
                                 daemon=True).start()
        elif change == BACK and waits:
            self._stop_watchers()
            self.watchers, notes = self._build_watchers()
            for watcher in self.watchers:
                watcher.start()
            message = f"the workspace {self.workspace} is back; watching it again"
            log.warning("%s", message)
            self.notes = [*notes, message]
            self.pipeline.submit(Event(source="companion", kind="companion.workspace_back",
                                       workspace=str(self.workspace),
                                       data={"workspace": str(self.workspace),
                                             "watchers": [w.name for w in self.watchers]}))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the daemon has completely stopped."""
        return self._finished.wait(timeout)

    def install_signal_handlers(self) -> None:
        """SIGINT/SIGTERM stop the daemon cleanly; call before `start` so no signal finds the default
        handler while the daemon starts (a stop asked for during start-up waits for it to finish)."""
        def on_signal(signum: int, _frame: Any) -> None:
            threading.Thread(target=self._stop_after_start, args=(signal.Signals(signum).name,), daemon=True).start()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

    def _stop_after_start(self, reason: str) -> None:
        self._start_done.wait(120)
        self.stop(reason)

    def run_until_signal(self) -> None:
        """Block until SIGINT/SIGTERM (or a `shutdown` request), then until the daemon has stopped."""
        self.install_signal_handlers()
        while not self._finished.wait(0.5):
            pass

    # -- events in and out ------------------------------------------------------------------
    def submit(self, event: Event) -> None:
        self.pipeline.submit(event)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.server.broadcast(topic, payload)

    def offer(self, proposal: Proposal) -> Proposal:
        """Store a proposal (surfaced or kept silent by the gate) and push it to subscribed clients
        on the `proposal` topic; clients show only those with `surfaced` true."""
        proposal.workspace = str(self.workspace)
        self.store.save_proposal(proposal)
        self.publish("proposal", {"proposal": proposal.to_dict(), "change": "new"})
        return proposal

    def _watcher_error(self, watcher: str, message: str, path: str | None) -> None:
        data: dict[str, Any] = {"watcher": watcher, "message": message}
        if path:
            data["path"] = path
        self.pipeline.submit(Event(source="companion", kind="companion.error", workspace=str(self.workspace), data=data))

    # -- socket operations ------------------------------------------------------------------
    def add_handler(self, op: str, handler: Callable[[dict[str, Any], Connection], dict[str, Any]]) -> None:
        self.handlers[op] = handler

    def _handle(self, request: dict[str, Any], connection: Connection) -> dict[str, Any]:
        handler = self.handlers.get(request["op"])
        if handler is None:
            raise ValueError(f"unknown operation {request['op']!r}")
        return handler(request, connection)

    def status(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "version": __version__, "pid": os.getpid(), "workspace": str(self.workspace),
            "started": self.started, "uptime_s": time.time() - self.started,
            "watchers": [w.name for w in self.watchers], "services": [getattr(s, "name", "?") for s in self.services],
            "notes": list(self.notes), "socket": str(self.socket_path), "database": str(self.store.path),
        }
        for provider in self.status_providers:
            try:
                info.update(provider())
            except Exception:
                log.exception("status provider failed")
        return info

    def _register_core_handlers(self) -> None:
        self.add_handler("ping", lambda req, conn: {"version": __version__, "pid": os.getpid(),
                                                     "workspace": str(self.workspace)})
        self.add_handler("status", lambda req, conn: {"status": self.status()})
        self.add_handler("emit", self._op_emit)
        self.add_handler("events", self._op_events)
        self.add_handler("subscribe", self._op_subscribe)
        self.add_handler("proposals", self._op_proposals)
        # answers, and the one step that applies an accepted edit (companion/outcomes.py)
        self.add_handler("outcome", OutcomeRecorder(self.store, self.workspace, self.publish))
        self.add_handler("shutdown", self._op_shutdown)

    def _op_emit(self, request: dict[str, Any], connection: Connection) -> Deferred:
        """Events from outside the daemon (shell hooks, editors); they join the same pipeline. The
        reply comes once they are committed to the store: an acknowledged event survives a crash.
        Every event of the request is checked before any is queued, so a bad one queues none."""
        raw_events = request.get("events") or ([request["event"]] if "event" in request else [])
        events: list[Event] = []
        for raw in raw_events:
            if not isinstance(raw, dict) or raw.get("source") not in EXTERNAL_SOURCES:
                raise ValueError(f"emit takes events of sources {EXTERNAL_SOURCES}")
            events.append(Event.from_dict({**raw, "workspace": str(self.workspace)}))
        reply = connection.defer(request.get("id"))

        def committed(error: str | None, count: int) -> None:
            if error is None:
                reply.resolve({"accepted": count, "committed": True})
            else:
                reply.fail(error)

        try:
            self.pipeline.submit_committed(events, committed)
        except Exception as exc:
            reply.fail(str(exc))
        return reply

    def _op_events(self, request: dict[str, Any], _conn: Connection) -> dict[str, Any]:
        ids = request.get("ids")  # the events behind a proposal (the dashboard's "why")
        events = self.store.events(workspace=str(self.workspace), since=request.get("since"),
                                   sources=request.get("sources"), kinds=request.get("kinds"),
                                   ids=[str(i) for i in ids] if isinstance(ids, list) else None,
                                   limit=int(request.get("limit", 200)), newest_first=True)
        return {"events": [event_payload(e) for e in reversed(events)]}

    def _op_subscribe(self, request: dict[str, Any], connection: Connection) -> dict[str, Any]:
        topics = request.get("topics") or ["event"]
        connection.topics.update(str(t) for t in topics)
        return {"topics": sorted(connection.topics)}

    def _op_proposals(self, request: dict[str, Any], _conn: Connection) -> dict[str, Any]:
        proposals = self.store.proposals(workspace=str(self.workspace), statuses=request.get("statuses"),
                                         surfaced=request.get("surfaced"), since=request.get("since"),
                                         limit=int(request.get("limit", 100)))
        return {"proposals": [p.to_dict() for p in proposals]}

    def _op_shutdown(self, _request: dict[str, Any], _conn: Connection) -> dict[str, Any]:
        threading.Thread(target=self.stop, args=("shutdown requested",), daemon=True).start()
        return {"stopping": True}


def _enricher(workspace: Path, config: Config, redactor: Redactor) -> Any:
    """The pipeline's evidence stage (companion.evidence.enrich), or None when `[evidence] enabled = false`."""
    if not config.evidence.enabled:
        return None
    from companion.evidence.enrich import Enricher
    from companion.evidence.snapshots import folder_for
    from watchers.ignore import IgnoreRules

    rules = IgnoreRules(workspace, config.watch.ignore)
    return Enricher.for_workspace(workspace, folder_for(workspace), redactor,
                                  rules.is_ignored, max_file_bytes=config.watch.max_file_bytes,
                                  max_store_bytes=config.evidence.max_store_mb * 2**20,
                                  max_files=config.evidence.max_files, ignore_changed=rules.forget_folder)


def start_in_this_process(workspace: Path, services: bool = True, verbose: bool = False) -> Daemon:
    """Start the workspace's daemon as this process's work: the one way `companion run` (and so a
    client's auto-start, which spawns it) and `companion watch` (when no daemon runs) start one.

    First the process takes the 0077 umask, so that whatever the daemon creates is the user's
    alone (0600 files, 0700 folders), and leaves its working folder for `/`: a daemon working
    inside the workspace would keep it busy and miss its deletion. Then logging, the signal
    handlers, and `start()`; AlreadyRunning when another daemon holds the workspace."""
    paths.restrict_umask()
    os.chdir("/")
    setup_logging(workspace, verbose=verbose)
    daemon = Daemon(workspace, services=services)
    daemon.install_signal_handlers()
    daemon.start()
    return daemon


def setup_logging(workspace: Path, verbose: bool = False, to_stderr: bool = True) -> Path:
    """Log to a per-workspace file in the data folder, and to stderr when in the foreground."""
    log_path = paths.private_file(paths.logs_dir() / f"daemon-{paths.workspace_key(workspace)}.log")
    handlers: list[logging.Handler] = [logging.FileHandler(log_path)]
    if to_stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.DEBUG if verbose else logging.WARNING)
        handlers.append(stream)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=handlers,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    return log_path


def is_running(workspace: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ping reply of the workspace's daemon, or None when none answers."""
    from companion.ipc import Client

    try:
        with Client(paths.socket_file(workspace), timeout=3.0) as client:
            return client.request("ping")
    except IpcError:
        return None
