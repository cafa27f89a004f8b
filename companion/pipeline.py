"""Between the watchers and everything else: redact, merge repeats, store in batches, fan out.

Watchers call `submit` from their own threads; a single pipeline thread does the rest, so the
store sees one writer and subscribers see events in order. Repeats of the mergeable kinds (an
error repeating, `git.dirty`) are dropped within `merge_window` seconds of the last one and counted
in `dropped_repeats`, instead of flooding the store.

Batching costs no latency: the thread takes whatever is queued when it wakes (up to
`batch_size`) and writes it in one transaction; under load the queue fills while a batch is
written, so batches grow by themselves. `flush_interval` > 0 would add waiting for more.

`submit_committed` is the acknowledging path (the socket's `emit`): its callback runs only after
the events' batch is committed (or with the reason it was not), right after the commit and
before subscribers run, so an acknowledgement costs one wake-up, not one transaction per event.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable, Iterable

from companion.events import Event, thaw
from companion.redact import Redactor
from companion.store import Store

log = logging.getLogger(__name__)
Subscriber = Callable[[Event], None]
Enrich = Callable[[Event], Event]
_STOP = object()


class PipelineStopped(RuntimeError):
    """An event came after `stop`; nothing will store it."""


Committed = Callable[[str | None, int], None]  # (error or None, events committed)


class _Ticket:
    """Calls `done` once, when all of its events are committed or at the first one that is lost."""

    __slots__ = ("done", "remaining", "committed")

    def __init__(self, count: int, done: Committed) -> None:
        self.done: Committed | None = done
        self.remaining = count
        self.committed = 0
        if count == 0:
            self.settle(None, counts=False)

    def settle(self, error: str | None, counts: bool = True) -> None:
        if self.done is None:
            return
        if error is not None:
            done, self.done = self.done, None
            done(error, self.committed)
            return
        if counts:
            self.committed += 1
            self.remaining -= 1
        if self.remaining <= 0:
            done, self.done = self.done, None
            done(None, self.committed)


def redact_event(event: Event, redactor: Redactor) -> Event:
    return event.with_data(redactor.redact_data(thaw(event.data)))


def _merge_key(event: Event) -> tuple[str, str] | None:
    """Events that may be merged when repeated: identical kind and data, e.g. an error repeating."""
    if event.kind in ("companion.error", "git.dirty"):
        return event.kind, str(sorted(thaw(event.data).items()))
    return None


class Pipeline:
    """Redacts, merges, persists and publishes events on one background thread."""

    def __init__(self, store: Store, redactor: Redactor, batch_size: int = 500, flush_interval: float = 0.0,
                 merge_window: float = 60.0, enrich: Enrich | None = None) -> None:
        self.store = store
        self.enrich = enrich  # adds evidence (companion.evidence.enrich) before redaction
        self.redactor = redactor
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.merge_window = merge_window
        self._queue: queue.Queue[object] = queue.Queue()
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._last_seen: dict[tuple[str, str], float] = {}
        self._thread = threading.Thread(target=self._run, name="pipeline", daemon=True)
        self._flushed = threading.Condition()
        self._submitted = 0
        self._stored = 0
        self._closed = False
        self.dropped_repeats = 0
        self.store_failures = 0  # batches the store refused (disk full, locked too long...)

    def start(self) -> None:
        self._thread.start()

    def submit(self, event: Event, ticket: _Ticket | None = None) -> None:
        """Queue an event from any thread."""
        with self._flushed:
            self._submitted += 1
        self._queue.put((event, ticket))

    def submit_committed(self, events: Iterable[Event], done: Committed) -> None:
        """Queue events; `done(None, n)` is called (on the pipeline's thread) once their batch is
        committed, a repeat merged into an earlier event counting as committed, or `done(error, n)`
        as soon as one of them could not be stored."""
        if self._closed:
            raise PipelineStopped("the daemon is stopping; the events were not stored")
        events = list(events)
        ticket = _Ticket(len(events), done)
        for event in events:
            self.submit(event, ticket)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback` with every stored event; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is stored (or merged away); False when that took
        longer than `timeout` or a batch could not be stored meanwhile (offsets must not move on)."""
        deadline = time.monotonic() + timeout
        with self._flushed:
            target = self._submitted
            failures = self.store_failures
            while self._stored < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._flushed.wait(remaining)
            return self.store_failures == failures

    def stop(self, timeout: float = 10.0) -> None:
        self._closed = True
        self._queue.put(_STOP)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        running = True
        while running:
            batch: list[tuple[Event, _Ticket | None]] = []
            item = self._queue.get()  # `stop` queues _STOP, so no polling is needed
            deadline = time.monotonic() + self.flush_interval
            while True:
                if item is _STOP:
                    running = False
                    break
                batch.append(item)  # type: ignore[arg-type]
                if len(batch) >= self.batch_size:
                    break
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            self._process(batch)

    def _process(self, batch: list[tuple[Event, _Ticket | None]]) -> None:
        ready: list[Event] = []
        settled: list[tuple[_Ticket, str | None]] = []  # known without the commit: merged, or lost
        committing: list[_Ticket] = []  # settled by the commit
        for event, ticket in batch:
            if self.enrich is not None:
                try:
                    event = self.enrich(event)
                except Exception:  # the event is kept without its evidence
                    log.exception("enriching %s failed", event.kind)
            try:
                clean = redact_event(event, self.redactor)
            except Exception:  # never store an event whose redaction failed
                log.exception("redaction failed; event %s dropped", event.kind)
                if ticket is not None:
                    settled.append((ticket, f"the {event.kind} event could not be redacted, so it was not stored"))
                continue
            key = _merge_key(clean)
            if key is not None:
                last = self._last_seen.get(key)
                self._last_seen[key] = clean.ts
                if last is not None and clean.ts - last < self.merge_window:
                    self.dropped_repeats += 1
                    if ticket is not None:
                        settled.append((ticket, None))
                    continue
            ready.append(clean)
            if ticket is not None:
                committing.append(ticket)
        stored_error: str | None = None
        try:
            self.store.add_events(ready)
        except Exception as exc:
            log.exception("could not store %d events", len(ready))
            stored_error = f"could not store {len(ready)} events: {exc}"
            with self._flushed:
                self.store_failures += 1
        # acknowledge right after the commit, before the subscribers (the engine may take a while)
        for ticket, error in settled:
            ticket.settle(error)
        for ticket in committing:
            ticket.settle(stored_error)
        with self._lock:
            subscribers = list(self._subscribers)
        for event in ready:
            for callback in subscribers:
                try:
                    callback(event)
                except Exception:
                    log.exception("event subscriber failed")
        with self._flushed:
            self._stored += len(batch)
            self._flushed.notify_all()
