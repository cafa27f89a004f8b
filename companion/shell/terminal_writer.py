"""Write a stream to a terminal without stalling the reader: a thread takes the slow writes.

Why: `companion shell` sits between two terminals. If it wrote the shell's output to the user's
terminal with a blocking write, it would stop reading the shell while the terminal catches up, and
the shell's output would wait on every hop; on a busy machine that halves a burst's throughput.
Small writes into an idle writer (a key's echo, a prompt) go straight out from the caller, so
typing waits for no thread.
"""

from __future__ import annotations

import errno
import os
import select
import threading
from collections import deque
from typing import Callable


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        except InterruptedError:
            continue
        view = view[written:]


class TerminalWriter:
    """Writes the shell's output to the terminal from a thread, so that reading the shell goes on
    while the terminal catches up (a blocking write would stall the shell's output on every hop).
    Small writes into an idle writer go straight out from the caller: a key's echo waits for no thread."""

    LIMIT = 4 * 1024 * 1024  # queued bytes at which the proxy stops reading the shell for a while
    DIRECT = 4096

    def __init__(self, fd: int, on_drain: Callable[[], None]) -> None:
        self.fd = fd
        self.on_drain = on_drain
        self.queue: deque[bytes] = deque()
        self.size = 0
        self.busy = False
        self.closed = False
        self.failed = False
        self.lock = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="terminal-writer", daemon=True)
        self.thread.start()

    @property
    def full(self) -> bool:
        return self.size >= self.LIMIT

    def write(self, data: bytes) -> None:
        with self.lock:
            if self.failed:
                raise OSError(errno.EIO, "the terminal is gone")
            if self.busy or self.queue or len(data) > self.DIRECT:
                self.queue.append(data)
                self.size += len(data)
                self.lock.notify_all()
                return
            self.busy = True
        try:
            _write_all(self.fd, data)
        except OSError:
            with self.lock:
                self.failed = True
            raise
        finally:
            with self.lock:
                self.busy = False
                self.lock.notify_all()

    def _run(self) -> None:
        while True:
            with self.lock:
                while (not self.queue or self.busy) and not (self.closed and not self.queue):
                    self.lock.wait()
                if not self.queue:
                    return
                data = b"".join(self.queue)
                self.queue.clear()
                self.busy = True
            try:
                if not self.failed:
                    _write_all(self.fd, data)
            except OSError:
                with self.lock:
                    self.failed = True
            finally:
                with self.lock:
                    was_full = self.full
                    self.size -= len(data)
                    self.busy = False
                    self.lock.notify_all()
                if was_full:
                    self.on_drain()

    def close(self, timeout: float = 5.0) -> None:
        """Let what is queued reach the terminal (for at most `timeout`), then stop the thread."""
        with self.lock:
            self.closed = True
            self.lock.notify_all()
        self.thread.join(timeout)
