"""How clients reach a workspace's daemon: `connect` (starting it in the background when none
runs) for one-off requests, and `Subscription` for the clients that stay (the dashboard, the
language server): subscribed, snapshot, one back-off policy, state callbacks."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from companion import paths
from companion.ipc import Client, IpcError

log = logging.getLogger(__name__)


def spawn_daemon(workspace: Path, extra_args: list[str] | None = None) -> subprocess.Popen[bytes]:
    """Start `companion run WORKSPACE` detached from this process (its own session, output to a log)."""
    log_file = open(paths.private_file(paths.logs_dir() / f"daemon-{paths.workspace_key(workspace)}.out"), "ab")
    command = [sys.executable, "-m", "companion", "run", str(workspace), "--quiet", *(extra_args or [])]
    # `run` leaves its working folder for / itself (daemon.start_in_this_process); cwd="/" already
    # here, because `python -m` imports from its working folder first, and that must not be the workspace
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                            start_new_session=True, cwd="/", env=os.environ.copy())


def wait_for_socket(workspace: Path, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    socket_path = paths.socket_file(workspace)
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            log = paths.data_dir() / "logs" / f"daemon-{paths.workspace_key(workspace)}.out"
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise IpcError(f"the companion daemon exited at start (code {process.returncode}):\n{tail}")
        try:
            with Client(socket_path, timeout=2.0) as client:
                client.request("ping")
                return
        except IpcError:
            time.sleep(0.1)
    raise IpcError(f"the companion daemon for {workspace} did not start within {timeout:.0f} s; "
                   f"see {paths.data_dir() / 'logs'}")


def connect(workspace: str | os.PathLike[str], start: bool = True,
            on_message: Callable[[dict[str, Any]], None] | None = None,
            on_disconnect: Callable[[], None] | None = None, timeout: float = 30.0) -> Client:
    """A client of the workspace's daemon; starts the daemon first when `start` and none answers."""
    root = paths.workspace_root(workspace)
    socket_path = paths.socket_file(root)
    try:
        return Client(socket_path, on_message=on_message, on_disconnect=on_disconnect, timeout=timeout)
    except IpcError:
        if not start:
            raise IpcError(f"no companion daemon runs for {root}; start one with `companion run {root}`") from None
    process = spawn_daemon(root)
    wait_for_socket(root, process=process)
    return Client(socket_path, on_message=on_message, on_disconnect=on_disconnect, timeout=timeout)


# -- one subscription, kept alive ------------------------------------------------------------
# state callbacks get one of these, with a message and details (see Subscription)
CONNECTING, CONNECTED, DISCONNECTED, STOPPED = "connecting", "connected", "disconnected", "stopped"


class Backoff:
    """The one reconnect policy of every client: 0.5 s, doubling to at most 10 s, reset on success."""

    def __init__(self, first_s: float = 0.5, longest_s: float = 10.0) -> None:
        self.first_s = first_s
        self.longest_s = longest_s
        self.next_s = first_s

    def failed(self) -> float:
        """The wait before the next attempt (and the one after grows)."""
        wait = self.next_s
        self.next_s = min(self.next_s * 2, self.longest_s)
        return wait

    def reset(self) -> None:
        self.next_s = self.first_s


class Subscription:
    """One connection to the workspace's daemon, subscribed to `topics`, kept alive on a thread.

    Connecting (and starting the daemon, which can take seconds) happens off the caller's
    thread; a daemon that goes away is noticed at once (the socket closes) and reconnected with
    `Backoff`. After each (re)connect, `snapshot(client)` reads what the caller must rebuild
    from (open proposals, recent events) while pushed messages already queue, so nothing falls
    between the two. `on_message` and `on_state(state, message, details)` run on the link's
    threads: CONNECTED details hold `daemon` (the ping reply) and `snapshot`; DISCONNECTED
    details hold `failures`, `retry_in` and `repeated` (the same state again). Requests made
    while no daemon answers fail at once with IpcError instead of waiting.
    """

    def __init__(self, workspace: str | os.PathLike[str], topics: tuple[str, ...],
                 on_message: Callable[[dict[str, Any]], None],
                 on_state: Callable[[str, str, dict[str, Any]], None],
                 snapshot: Callable[[Client], dict[str, Any]] | None = None, start_daemon: bool = True,
                 restart_daemon: bool = True, request_timeout_s: float = 5.0, backoff: Backoff | None = None, name: str = "daemon-link") -> None:
        self.workspace = Path(workspace)
        self.topics = topics
        self.start_daemon = start_daemon
        self.restart_daemon = restart_daemon  # start it again when it went away (else only at first)
        self.request_timeout_s = request_timeout_s
        self.backoff = backoff or Backoff()
        self.state = CONNECTING
        self.daemon: dict[str, Any] = {}
        self._on_message = on_message
        self._on_state = on_state
        self._snapshot = snapshot
        self._client: Client | None = None
        self._lost = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._lost.set()
        client, self._client = self._client, None
        if client is not None:
            client.close()
        self._set_state(STOPPED, "stopped")

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    @property
    def connected(self) -> bool:
        client = self._client
        return self.state == CONNECTED and client is not None and client.connected

    def request(self, op: str, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """A request on the live connection; IpcError at once when none is connected."""
        client = self._client
        if client is None or not client.connected:
            raise IpcError(f"not connected to the companion daemon of {self.workspace} "
                           f"({self.state}); the request {op!r} was not sent")
        return client.request(op, timeout=timeout or self.request_timeout_s, **fields)

    def wait_lost(self, timeout: float) -> bool:
        """True once the connection is lost or the subscription stopped (else after `timeout`, False)."""
        return self._lost.wait(timeout)

    # -- the connection loop ------------------------------------------------------------------
    def run(self) -> None:
        """Connect, then reconnect whenever the connection is lost, until stop() (a thread's body)."""
        failures = 0
        first = True
        while not self._stopped.is_set():
            self._set_state(CONNECTING, f"connecting to the companion daemon of {self.workspace}")
            try:
                self._connect(start=self.start_daemon and (first or self.restart_daemon))
            except (IpcError, OSError) as exc:
                failures += 1
                first = False
                wait = self.backoff.failed()
                self._set_state(DISCONNECTED, str(exc), {"failures": failures, "retry_in": wait})
                self._stopped.wait(wait)
                continue
            first = False
            failures = 0
            self.backoff.reset()
            self._lost.wait()
            client, self._client = self._client, None
            if client is not None:
                client.close()
            if self._stopped.is_set():
                return
            wait = self.backoff.failed()
            self._set_state(DISCONNECTED, "the companion daemon went away; reconnecting",
                            {"failures": 0, "retry_in": wait})
            self._stopped.wait(wait)

    def _connect(self, start: bool) -> None:
        self._lost.clear()
        root = paths.workspace_root(self.workspace)
        client = connect(root, start=start, on_message=self._on_message, on_disconnect=self._lost.set,
                         timeout=self.request_timeout_s)
        try:
            client.request("subscribe", topics=list(self.topics))
            info = client.request("ping")
            snapshot = self._snapshot(client) if self._snapshot is not None else {}
        except IpcError:
            client.close()
            raise
        if self._stopped.is_set():
            client.close()
            return
        self._client = client
        self.daemon = info
        self._set_state(CONNECTED, f"attached to the companion daemon of {root} (pid {info.get('pid')})",
                        {"daemon": info, "snapshot": snapshot})

    def _set_state(self, state: str, message: str, details: dict[str, Any] | None = None) -> None:
        if state == self.state and state not in (CONNECTED, DISCONNECTED):
            return
        repeated = state == self.state == DISCONNECTED
        self.state = state
        log.log(logging.DEBUG if repeated else logging.INFO, "%s: %s", state, message)
        try:
            self._on_state(state, message, {**(details or {}), "repeated": repeated})
        except Exception:
            log.exception("state callback failed")
