"""The language server's line to the workspace's daemon, kept alive on a background thread.

An editor must never hang because of companion: connecting (and starting the daemon, which
can take seconds) happens off the editor's event loop; a daemon that dies is noticed at once
(the socket closes), reported, and reconnected with a growing back-off; requests made while
no daemon answers fail immediately with a message instead of waiting.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable

from companion.client import connect
from companion.ipc import Client, IpcError

log = logging.getLogger(__name__)
REQUEST_TIMEOUT_S = 5.0

# state callbacks get one of these, with a message and, once connected, the daemon's ping reply
CONNECTING, CONNECTED, DISCONNECTED, STOPPED = "connecting", "connected", "disconnected", "stopped"


class DaemonLink:
    """Connects, subscribes to proposals, and reconnects; callbacks run on the link's threads."""

    def __init__(self, workspace: Path, on_message: Callable[[dict[str, Any]], None],
                 on_state: Callable[[str, str, dict[str, Any]], None], start_daemon: bool = True,
                 topics: tuple[str, ...] = ("proposal",), max_backoff_s: float = 10.0) -> None:
        self.workspace = workspace
        self.start_daemon = start_daemon
        self.topics = topics
        self.max_backoff_s = max_backoff_s
        self.state = CONNECTING
        self.daemon: dict[str, Any] = {}
        self._on_message = on_message
        self._on_state = on_state
        self._client: Client | None = None
        self._lost = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="daemon-link", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._lost.set()
        client, self._client = self._client, None
        if client is not None:
            client.close()
        self._set_state(STOPPED, "the language server stopped")

    @property
    def connected(self) -> bool:
        return self.state == CONNECTED and self._client is not None and self._client.connected

    def request(self, op: str, timeout: float = REQUEST_TIMEOUT_S, **fields: Any) -> dict[str, Any]:
        """A request to the daemon; raises IpcError at once when none is connected."""
        client = self._client
        if client is None or not client.connected:
            raise IpcError(f"not connected to the companion daemon of {self.workspace} "
                           f"({self.state}); the request {op!r} was not sent")
        return client.request(op, timeout=timeout, **fields)

    # -- the connection loop ------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.5
        failures = 0
        while not self._stopped.is_set():
            self._set_state(CONNECTING, f"connecting to the companion daemon of {self.workspace}")
            try:
                self._connect()
            except IpcError as exc:
                failures += 1
                self._set_state(DISCONNECTED, str(exc), {"failures": failures})
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            failures = 0
            backoff = 0.5
            self._lost.wait()
            if self._stopped.is_set():
                return
            self._client = None
            self._set_state(DISCONNECTED, "the companion daemon went away; reconnecting")
            self._stopped.wait(0.2)

    def _connect(self) -> None:
        self._lost.clear()
        client = connect(self.workspace, start=self.start_daemon, on_message=self._on_message,
                         on_disconnect=self._lost.set, timeout=REQUEST_TIMEOUT_S)
        try:
            client.request("subscribe", topics=list(self.topics))
            info = client.request("ping")
            snapshot = client.request("proposals", statuses=["open"], surfaced=True, limit=500)
        except IpcError:
            client.close()
            raise
        if self._stopped.is_set():
            client.close()
            return
        self._client = client
        self.daemon = info
        self._set_state(CONNECTED, f"attached to the companion daemon of {self.workspace} (pid {info.get('pid')})",
                        {"daemon": info, "proposals": snapshot.get("proposals", [])})

    def _set_state(self, state: str, message: str, details: dict[str, Any] | None = None) -> None:
        if state == self.state and state != CONNECTED and state != DISCONNECTED:
            return
        repeated = state == self.state == DISCONNECTED
        self.state = state
        log.log(logging.DEBUG if repeated else logging.INFO, "%s: %s", state, message)
        try:
            self._on_state(state, message, {**(details or {}), "repeated": repeated})
        except Exception:
            log.exception("state callback failed")
