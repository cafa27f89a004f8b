"""The daemon's local socket: JSON lines over a Unix socket with 0600 permissions.

A request is `{"id": 1, "op": "events", ...}`; its reply is `{"id": 1, "ok": true, ...}` or
`{"id": 1, "ok": false, "error": "..."}`. After `{"op": "subscribe", "topics": [...]}` the daemon
also pushes `{"topic": "event", ...}` messages on the same connection. No TCP port is opened.

A handler may answer later: it takes `connection.defer(request_id)`, returns it, and calls its
`resolve`/`fail` from any thread; the connection's reply thread sends deferred replies in request
order, those that completed together in one write. That is how `emit` acknowledges only committed
events while the connection goes on reading (and the pipeline goes on batching) the requests a
client pipelines behind it; a client that stops reading stalls only its own reply thread.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import stat
import threading
from collections import deque
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)
MAX_LINE = 16 * 1024 * 1024


class IpcError(RuntimeError):
    """The daemon could not be reached, or answered with an error."""


class IpcRefused(IpcError):
    """The daemon received the request and answered it with an error (`reply`): unlike a lost
    connection, sending the same request again gets the same answer. An exception raised by an
    operation may carry `reply_fields` (a dict, e.g. {"code": ...}) that the error reply holds."""

    def __init__(self, reply: dict[str, Any]) -> None:
        super().__init__(reply.get("error") or "the daemon refused the request")
        self.reply = reply
        self.code = reply.get("code")


class Connection:
    """One client connection on the server side; `send` is safe from any thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.topics: set[str] = set()
        self.closed = False
        self._send_lock = threading.Lock()
        self.on_close: list[Callable[[], None]] = []
        self._ready = threading.Condition()
        self._waiting: deque[Deferred] | None = None  # deferred replies, in request order

    def send(self, message: dict[str, Any]) -> bool:
        return self.send_all([message])

    def send_all(self, messages: list[dict[str, Any]]) -> bool:
        """Send messages in one write (replies that completed together go out together)."""
        data = b"".join((json.dumps(m, ensure_ascii=False, default=str) + "\n").encode() for m in messages)
        with self._send_lock:
            if self.closed:
                return False
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                self.close()
                return False

    def defer(self, request_id: Any) -> "Deferred":
        """A reply to send later, after the earlier deferred replies of this connection."""
        deferred = Deferred(self, request_id)
        with self._ready:
            if self._waiting is None:
                self._waiting = deque()
                threading.Thread(target=self._reply_loop, name="ipc-reply", daemon=True).start()
            self._waiting.append(deferred)
        return deferred

    def _reply_loop(self) -> None:
        assert self._waiting is not None
        while True:
            with self._ready:
                while not self.closed and not (self._waiting and self._waiting[0].message is not None):
                    self._ready.wait(1.0)
                if self.closed:
                    return
                ready = []
                while self._waiting and self._waiting[0].message is not None:
                    ready.append(self._waiting.popleft().message)
            self.send_all(ready)  # outside the lock: resolving never waits for the socket

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with self._ready:
            self._ready.notify_all()
        try:  # shutdown first: close() alone leaves the fd open while the reader's makefile lives,
            self.sock.shutdown(socket.SHUT_RDWR)  # and the client would never see the daemon go
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        for callback in self.on_close:
            try:
                callback()
            except Exception:
                log.exception("on_close callback failed")


class Deferred:
    """A reply that its handler completes later, from any thread (`Connection.defer`)."""

    __slots__ = ("connection", "request_id", "message")

    def __init__(self, connection: Connection, request_id: Any) -> None:
        self.connection = connection
        self.request_id = request_id
        self.message: dict[str, Any] | None = None

    def resolve(self, reply: dict[str, Any]) -> None:
        self._complete({"id": self.request_id, "ok": True, **reply})

    def fail(self, error: str) -> None:
        self._complete({"id": self.request_id, "ok": False, "error": error})

    def _complete(self, message: dict[str, Any]) -> None:
        with self.connection._ready:
            if self.message is None:
                self.message = message
                self.connection._ready.notify()


Handler = Callable[[dict[str, Any], Connection], "dict[str, Any] | Deferred"]


class IpcServer:
    """Accepts connections on a Unix socket and dispatches each request line to a handler."""

    def __init__(self, path: Path, handle: Handler) -> None:
        self.path = path
        self.handle = handle
        self.connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.path.exists():
            self.path.unlink()  # a stale socket of a crashed daemon; the caller holds the lock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, stat.S_IRUSR | stat.S_IWUSR)
        sock.listen(64)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, name="ipc-accept", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
        with self._lock:
            connections = list(self.connections)
        for connection in connections:
            connection.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def broadcast(self, topic: str, payload: dict[str, Any]) -> None:
        with self._lock:
            connections = [c for c in self.connections if topic in c.topics]
        for connection in connections:
            connection.send({"topic": topic, **payload})

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            connection = Connection(client)
            with self._lock:
                self.connections.add(connection)
            threading.Thread(target=self._serve, args=(connection,), name="ipc-conn", daemon=True).start()

    def _serve(self, connection: Connection) -> None:
        reader = connection.sock.makefile("rb")
        try:
            while True:
                line = reader.readline(MAX_LINE)
                if not line:
                    break
                self._dispatch(connection, line)
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                self.connections.discard(connection)
            connection.close()

    def _dispatch(self, connection: Connection, line: bytes) -> None:
        request_id: Any = None
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                raise ValueError("a request is a JSON object with an 'op'")
            request_id = request.get("id")
            reply = self.handle(request, connection)
            if not isinstance(reply, Deferred):  # a deferred reply is sent by the connection's reply thread
                connection.send({"id": request_id, "ok": True, **reply})
        except Exception as exc:  # a bad request gets an error reply, never a dead daemon
            if not isinstance(exc, (ValueError, KeyError, IpcError)):
                log.exception("request failed")
            fields = getattr(exc, "reply_fields", None)
            connection.send({**(fields if isinstance(fields, dict) else {}), "id": request_id, "ok": False,
                             "error": str(exc) or type(exc).__name__})


class Client:
    """A connection to a daemon: `request` waits for its reply; pushed messages go to `on_message`."""

    def __init__(self, path: Path, on_message: Callable[[dict[str, Any]], None] | None = None,
                 on_disconnect: Callable[[], None] | None = None, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self.on_message = on_message
        self.on_disconnect = on_disconnect
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(2.0)
            self._sock.connect(str(path))
            self._sock.settimeout(None)
        except OSError as exc:
            self._sock.close()
            raise IpcError(f"no companion daemon answers at {path}: {exc.strerror or exc}") from None
        self.connected = True
        self._reader = threading.Thread(target=self._read_loop, name="ipc-client", daemon=True)
        self._reader.start()

    def request(self, op: str, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """Send one request and return its reply; raises IpcError on an error reply or a lost daemon."""
        if not self.connected:
            raise IpcError("the connection to the companion daemon is closed")
        request_id = next(self._ids)
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            self._pending[request_id] = future
        data = (json.dumps({"id": request_id, "op": op, **fields}, default=str) + "\n").encode()
        try:
            self._sock.sendall(data)
            reply = future.result(timeout or self.timeout)
        except OSError as exc:
            raise IpcError(f"lost the companion daemon: {exc}") from None
        except TimeoutError:
            raise IpcError(f"the companion daemon did not answer {op!r} in time") from None
        finally:
            with self._lock:
                self._pending.pop(request_id, None)
        if not reply.get("ok"):
            raise IpcRefused(reply)
        return reply

    def close(self) -> None:
        self.connected = False
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_loop(self) -> None:
        reader = self._sock.makefile("rb")
        try:
            for line in reader:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if "id" in message and "topic" not in message:
                    with self._lock:
                        future = self._pending.get(message["id"])
                    if future is not None and not future.done():
                        future.set_result(message)
                elif self.on_message is not None:
                    try:
                        self.on_message(message)
                    except Exception:
                        log.exception("message callback failed")
        except (OSError, ValueError):
            pass
        finally:
            self.connected = False
            with self._lock:
                pending = list(self._pending.values())
            for future in pending:
                if not future.done():
                    future.set_exception(OSError("connection closed"))
            if self.on_disconnect is not None:
                self.on_disconnect()
