"""Between the watchers and everything else: redact, merge repeats, store in batches, fan out.

Watchers call `submit` from their own threads; a single pipeline thread does the rest, so the
store sees one writer and subscribers see events in order. Repeats are merged heartbeat-style
(aw-core): the same event again within `merge_window` seconds bumps a `repeat` count on the
next event instead of flooding the store.

Batching costs no latency: the thread takes whatever is queued when it wakes (up to
`batch_size`) and writes it in one transaction; under load the queue fills while a batch is
written, so batches grow by themselves. `flush_interval` > 0 would add waiting for more.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

from companion.events import Event, thaw
from companion.redact import Redactor
from companion.store import Store

log = logging.getLogger(__name__)
Subscriber = Callable[[Event], None]
Enrich = Callable[[Event], Event]
_STOP = object()


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
        self.dropped_repeats = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, event: Event) -> None:
        """Queue an event from any thread."""
        with self._flushed:
            self._submitted += 1
        self._queue.put(event)

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
        """Wait until everything submitted so far is stored (or merged away)."""
        deadline = time.monotonic() + timeout
        with self._flushed:
            target = self._submitted
            while self._stored < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._flushed.wait(remaining)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        self._queue.put(_STOP)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        running = True
        while running:
            batch: list[Event] = []
            try:
                item = self._queue.get()  # `stop` queues _STOP, so no polling is needed
            except queue.Empty:
                continue
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

    def _process(self, batch: list[Event]) -> None:
        ready: list[Event] = []
        for event in batch:
            if self.enrich is not None:
                try:
                    event = self.enrich(event)
                except Exception:  # the event is kept without its evidence
                    log.exception("enriching %s failed", event.kind)
            try:
                clean = redact_event(event, self.redactor)
            except Exception:  # never store an event whose redaction failed
                log.exception("redaction failed; event %s dropped", event.kind)
                continue
            key = _merge_key(clean)
            if key is not None:
                last = self._last_seen.get(key)
                self._last_seen[key] = clean.ts
                if last is not None and clean.ts - last < self.merge_window:
                    self.dropped_repeats += 1
                    continue
            ready.append(clean)
        try:
            self.store.add_events(ready)
        except Exception:
            log.exception("could not store %d events", len(ready))
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
