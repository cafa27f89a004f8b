"""The model's own thread, so the rules never wait for it.

The engine's worker answers every trigger with the rules at once and hands the moment here. This
thread loads the agent (once; `engine.preload` asks for it at start), runs the model on the newest
moment only — a moment that a newer one overtook while the model was busy is dropped, its rules'
proposal stays as it is — and gives the result back to the engine: an improvement of the proposal
already offered (same id, "updated"), or, when the rules found nothing, the model's own grounded
proposal.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from companion.engine.engine import Engine
    from companion.engine.proposer import StepContext, StepOutcome
    from companion.proposals import Proposal

log = logging.getLogger(__name__)
LOAD = "load"


@dataclass
class ModelJob:
    ctx: "StepContext"
    first: "StepOutcome"  # what the rules found
    offered: "Proposal | None"  # the rules' proposal as it was offered (None: none, or dropped as a repeat)


class ModelWorker:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.dropped = 0  # moments overtaken by newer ones before the model saw them

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="engine-model", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def load(self) -> None:
        self._jobs.put(LOAD)

    def submit(self, job: ModelJob) -> None:
        self._jobs.put(job)

    @property
    def pending(self) -> int:
        return self._jobs.qsize()

    def _loop(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            while isinstance(item, ModelJob):  # only the newest moment is worth the model's time
                try:
                    newer = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if newer is None:
                    return
                if isinstance(newer, ModelJob):
                    self.dropped += 1
                    item = newer
                else:
                    self._jobs.put(newer)
                    break
            try:
                if item == LOAD:
                    self.engine._ensure_proposer(with_agent=True)
                else:
                    self._run(item)
            except Exception:  # the model's bugs never stop the rules or the daemon
                log.exception("the model step failed")

    def _run(self, job: ModelJob) -> None:
        engine = self.engine
        proposer = engine._ensure_proposer(with_agent=True)
        if proposer.agent is None:
            return
        later = engine._model_step(proposer, job.ctx, job.first)
        if later is None or later.proposal is None:
            return
        if job.offered is not None and later.proposal.id == job.offered.id:
            engine._update(later.proposal, expected_task=job.offered.task)
        elif job.first.proposal is None:
            engine._deliver(later.proposal)
