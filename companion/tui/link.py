"""The dashboard's side of the one subscription client (companion.client.Subscription).

The subscription connects (starting the daemon once), subscribes, snapshots and reconnects; this
module turns what it hears into the UI's messages (see messages.py). Events do not travel in
the messages: they go into a bounded buffer, and each one posts a bare EventsArrived. Textual
coalesces those in the UI's queue (`EventsArrived.can_replace`, as toolong's file watcher does),
so at 1,000 events a second the UI still handles one message per batch and drains the whole
buffer at once. When the UI falls behind, the oldest buffered events are dropped (and counted)
rather than piling up.
"""

from __future__ import annotations

import collections
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

from textual.message import Message

from companion.client import CONNECTED, DISCONNECTED, Backoff, Client, Subscription
from companion.config import Config, ConfigError, load_config, ollama_host
from companion.tui.messages import (DaemonConnected, DaemonDown, EventsArrived, ProposalChanged, SettingsChanged,
                                    StatusUpdated)


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
        host = ollama_host(config.agent.ollama_host)
        try:
            with urllib.request.urlopen(host.rstrip("/") + "/api/version", timeout=1.0):
                return True, f"ollama at {host}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return False, f"ollama at {host} does not answer ({getattr(exc, 'reason', exc)})"
    return None, f"{backend}{' ' + config.agent.model if config.agent.model else ''} (inside the daemon)"


class DaemonLink:
    """Feeds the UI through `post` from one subscribed connection to the daemon."""

    def __init__(self, workspace: Path, post: Callable[[Message], object], start_daemon: bool = True,
                 retry_s: float = 2.0, max_buffer: int = 5000, initial_events: int = 300) -> None:
        self.workspace = workspace
        self.post = post
        self.initial_events = initial_events
        self.status: dict[str, Any] = {}
        self.received = 0
        self.dropped = 0
        self._buffer: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_buffer)
        self._buffer_lock = threading.Lock()
        # the dashboard starts a daemon once; one that was stopped on purpose is not restarted
        self.subscription = Subscription(workspace, ("event", "proposal", "config"), self.on_message, self._on_state,
                                         snapshot=self._snapshot, start_daemon=start_daemon, restart_daemon=False,
                                         request_timeout_s=15.0, backoff=Backoff(first_s=retry_s, longest_s=max(retry_s, 10.0)),
                                         name="tui-daemon-link")

    # -- called from the subscription's threads ----------------------------------------------
    def on_message(self, message: dict[str, Any]) -> None:
        topic = message.get("topic")
        if topic == "event" and isinstance(message.get("event"), dict):
            self.push_event(message["event"])
        elif topic == "proposal" and isinstance(message.get("proposal"), dict):
            self.post(ProposalChanged(message["proposal"], str(message.get("change", "new"))))
        elif topic == "config":
            self.post(SettingsChanged(dict(message.get("config") or {}), list(message.get("restart_needed") or [])))

    def push_event(self, payload: dict[str, Any]) -> None:
        """Buffer one event and post a bare EventsArrived; the UI's queue merges the queued ones
        (`EventsArrived.can_replace`), so no flag here has to remember that one is on its way."""
        with self._buffer_lock:
            if len(self._buffer) == self._buffer.maxlen:
                self.dropped += 1
            self._buffer.append(payload)
            self.received += 1
        self.post(EventsArrived())

    def drain(self) -> list[dict[str, Any]]:
        """Everything buffered since the last drain (called on the UI thread)."""
        with self._buffer_lock:
            batch = list(self._buffer)
            self._buffer.clear()
        return batch

    def _snapshot(self, client: Client) -> dict[str, Any]:
        return {"status": client.request("status")["status"],
                "events": client.request("events", limit=self.initial_events)["events"],
                "proposals": client.request("proposals", statuses=["open"], surfaced=True, limit=200)["proposals"]}

    def _on_state(self, state: str, message: str, details: dict[str, Any]) -> None:
        if state == CONNECTED:
            snapshot = details.get("snapshot") or {}
            self.status = snapshot.get("status") or {}
            self.drain()  # the snapshot already holds anything pushed while it was read
            self.post(DaemonConnected(self.status, snapshot.get("events") or [], snapshot.get("proposals") or []))
            self.post_status()
        elif state == DISCONNECTED:
            self.post(DaemonDown(message, float(details.get("retry_in") or 0.0)))

    # -- the UI's side -----------------------------------------------------------------------
    def start(self) -> None:
        self.subscription.start()

    def stop(self) -> None:
        self.subscription.stop()

    @property
    def connected(self) -> bool:
        return self.subscription.connected

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """A request on the live connection; IpcError at once when the daemon is down."""
        return self.subscription.request(op, **fields)

    def refresh_status(self) -> None:
        """Ask for the status now (call from a worker) and post it; nothing when not connected."""
        if self.connected:
            self.status = self.request("status")["status"]
            self.post_status()

    def post_status(self) -> None:
        try:
            config: Config | None = load_config(self.workspace)
        except ConfigError:
            config = None
        ok, detail = backend_health(self.status, config)
        self.post(StatusUpdated(self.status, ok, detail))
