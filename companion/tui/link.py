"""The dashboard's link to the workspace's daemon: connect (starting it once), subscribe, reconnect.

`DaemonLink.run` is the body of a thread worker. It owns the socket client; everything it learns
reaches the UI as a message (see messages.py). Events are not posted one by one: at 1,000 events
a second that would flood the UI's queue. They go into a bounded buffer, and one EventsArrived
message is posted when the buffer turns non-empty; the UI drains the whole batch at once. When
the UI falls behind, the oldest buffered events are dropped (and counted) rather than piling up.
"""

from __future__ import annotations

import collections
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

from textual.message import Message

from companion.client import connect
from companion.config import Config, ConfigError, load_config
from companion.ipc import Client, IpcError
from companion.tui.messages import DaemonConnected, DaemonDown, EventsArrived, ProposalChanged, StatusUpdated


def backend_health(status: dict[str, Any], config: Config | None) -> tuple[bool | None, str]:
    """(ok, detail) of the agent's model backend: what the daemon reports, else a probe of Ollama.

    None means "unknown": the in-process backends live and die with the daemon itself.
    """
    agent = status.get("agent")
    if isinstance(agent, dict):
        name = " ".join(str(agent[k]) for k in ("backend", "model") if agent.get(k)) or "agent"
        if agent.get("ok") is False or agent.get("error"):
            return False, f"{name}: {agent.get('error') or 'not working'}"
        if agent.get("ok") is True:
            return True, name
    if config is None:
        return None, "unknown backend (the config could not be read)"
    backend = config.agent.backend
    if backend == "ollama":
        import os

        host = config.agent.ollama_host or os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434"
        if not host.startswith("http"):
            host = "http://" + host
        try:
            with urllib.request.urlopen(host.rstrip("/") + "/api/version", timeout=1.0):
                return True, f"ollama at {host}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return False, f"ollama at {host} does not answer ({getattr(exc, 'reason', exc)})"
    return None, f"{backend}{' ' + config.agent.model if config.agent.model else ''} (inside the daemon)"


class DaemonLink:
    """Keeps one subscribed connection to the daemon and feeds the UI through `post`."""

    def __init__(self, workspace: Path, post: Callable[[Message], object], start_daemon: bool = True,
                 retry_s: float = 2.0, status_every_s: float = 5.0, max_buffer: int = 5000,
                 initial_events: int = 300) -> None:
        self.workspace = workspace
        self.post = post
        self.start_daemon = start_daemon
        self.retry_s = retry_s
        self.status_every_s = status_every_s
        self.initial_events = initial_events
        self.client: Client | None = None
        self.status: dict[str, Any] = {}
        self.received = 0
        self.dropped = 0
        self._buffer: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_buffer)
        self._buffer_lock = threading.Lock()
        self._signalled = False
        self._lost = threading.Event()
        self._stop = threading.Event()

    # -- called from the reader thread of the socket client ----------------------------------
    def on_message(self, message: dict[str, Any]) -> None:
        topic = message.get("topic")
        if topic == "event" and isinstance(message.get("event"), dict):
            self.push_event(message["event"])
        elif topic == "proposal" and isinstance(message.get("proposal"), dict):
            self.post(ProposalChanged(message["proposal"], str(message.get("change", "new"))))

    def push_event(self, payload: dict[str, Any]) -> None:
        """Buffer one event; post EventsArrived only when the buffer was empty (one per batch)."""
        with self._buffer_lock:
            if len(self._buffer) == self._buffer.maxlen:
                self.dropped += 1
            self._buffer.append(payload)
            self.received += 1
            if self._signalled:
                return
            self._signalled = True
        self.post(EventsArrived())

    def drain(self) -> list[dict[str, Any]]:
        """Everything buffered since the last drain (called on the UI thread)."""
        with self._buffer_lock:
            batch = list(self._buffer)
            self._buffer.clear()
            self._signalled = False
        return batch

    def _on_disconnect(self) -> None:
        self._lost.set()

    # -- the worker ----------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self._lost.set()
        client = self.client
        if client is not None:
            client.close()

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """A request on the live connection; IpcError when the daemon is down."""
        client = self.client
        if client is None or not client.connected:
            raise IpcError("the companion daemon is not connected; the dashboard keeps retrying")
        return client.request(op, **fields)

    def run(self) -> None:
        """Connect, then reconnect whenever the connection is lost, until stop()."""
        first = True
        while not self._stop.is_set():
            try:
                self._attach(start=first and self.start_daemon)
            except (IpcError, OSError) as exc:
                self.client = None
                self.post(DaemonDown(str(exc), self.retry_s))
                first = False
                self._stop.wait(self.retry_s)
                continue
            first = False
            self._watch_until_lost()
            if self.client is not None:
                self.client.close()
                self.client = None
            if not self._stop.is_set():
                self.post(DaemonDown("lost the connection to the companion daemon", self.retry_s))
                self._stop.wait(self.retry_s)

    def _attach(self, start: bool) -> None:
        self._lost.clear()
        client = connect(self.workspace, start=start, on_message=self.on_message, on_disconnect=self._on_disconnect,
                         timeout=15.0)
        self.client = client
        client.request("subscribe", topics=["event", "proposal"])
        self.status = client.request("status")["status"]
        events = client.request("events", limit=self.initial_events)["events"]
        proposals = client.request("proposals", statuses=["open"], surfaced=True, limit=200)["proposals"]
        self.drain()  # the snapshot already holds anything pushed while it was read
        self.post(DaemonConnected(self.status, events, proposals))
        self.post_status()

    def _watch_until_lost(self) -> None:
        while not self._lost.wait(self.status_every_s):
            try:
                self.status = self.request("status")["status"]
            except IpcError:
                return
            self.post_status()

    def post_status(self) -> None:
        try:
            config: Config | None = load_config(self.workspace)
        except ConfigError:
            config = None
        ok, detail = backend_health(self.status, config)
        self.post(StatusUpdated(self.status, ok, detail))

