"""The engine inside the daemon: events in, gated proposals out, never blocking the daemon.

The pipeline hands every stored event to `on_event`, which only queues it. One worker thread
applies the trigger rules, asks the interruption budget, runs the quick-fix rules (instant) and
offers their best candidate through `daemon.offer`; the model runs on top in its own thread
(`model_worker.py`, with its deadline), so the rules never wait for it: a model that picks or
explains a candidate improves that proposal in place (published as "updated", never sent twice);
with no candidate, its own task is offered only if grounded. A second small thread expires
unanswered proposals to `ignored`. A backend that cannot be reached, or a model that
times out again and again (a server that hangs), gives one clear message and a back-off; the rules
go on, and so does the daemon.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

from companion.agent.backends import Backend, BackendUnavailable, load_backend
from companion.agent.runner import Agent
from companion.engine.budget import InterruptionBudget
from companion.engine.expiry import expire_unanswered, wake_snoozed
from companion.engine.model_worker import ModelJob, ModelWorker
from companion.engine.proposer import Proposer, StepOutcome, load_gate
from companion.engine.triggers import Trigger, TriggerRules, salient_reason
from companion.quickfix import RuleBook
from companion.events import Event
from companion.gate.base import Gate
from companion.proposals import Proposal

log = logging.getLogger(__name__)
UNAVAILABLE_BACKOFF_S = (30.0, 1800.0)  # first and longest wait after a backend could not be reached
TIMEOUTS_BEFORE_BACKOFF = 2  # model steps in a row that end at their deadline count as unavailability
FOLLOW_UP_S = 30.0  # a surer rules' proposal this soon after another replaces it in place
COOLING_DOWN = "cooling down"  # the budget's hold after each proposal (see budget.hold_reason)
_AUTO = object()


class Engine:
    name = "engine"

    def __init__(self, daemon: Any, backend: Backend | None = None, gate: Gate | None | object = _AUTO,
                 backend_factory: Callable[[], Backend] | None = None) -> None:
        self.daemon = daemon
        self.config = daemon.config
        self.workspace: Path = daemon.workspace
        self.store = daemon.store
        self.budget = InterruptionBudget(self.store, str(self.workspace), self.config.engine)
        engine_config = self.config.engine
        self.rules = TriggerRules(engine_config.idle_s, idle=getattr(engine_config, "idle_trigger", False),
                                  todos=getattr(engine_config, "todo_trigger", False))
        self._backend = backend
        self._backend_factory = backend_factory or (lambda: load_backend(self.config))
        self._gate = gate
        self.proposer: Proposer | None = None
        self._queue: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._unavailable_until = 0.0
        self._unavailable_wait = UNAVAILABLE_BACKOFF_S[0]
        self._reported: set[str] = set()
        self.model = ModelWorker(self)
        self._agent_lock = threading.Lock()
        # Two proposers built at once lost the model: the model thread loaded it into the one built
        # first, then the engine thread's finished and replaced it, and the daemon never said "loaded".
        self._proposer_lock = threading.Lock()
        self.notes: list[str] = []
        self.stats: dict[str, Any] = {"triggers": 0, "steps": 0, "proposals": 0, "surfaced": 0, "held": 0,
                                      "last_trigger": None, "last_step_s": None, "last_hold": None}

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._unsubscribe = self.daemon.pipeline.subscribe(self.on_event)
        for name, target in (("engine", self._run), ("engine-expiry", self._expire_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.model.start()
        if self.config.engine.preload:
            self._queue.put(("load", None))
            self.model.load()
        self.daemon.add_handler("suggest", self._op_suggest)
        self.daemon.add_handler("pause", self._op_pause)
        self.daemon.add_handler("resume", self._op_resume)
        self.daemon.status_providers.append(self.status)

    def stop(self) -> None:
        self._stop.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._queue.put(("stop", None))
        for thread in self._threads:
            thread.join(timeout=5.0)
        self.model.stop()
        if self.proposer is not None and self.proposer.agent is not None:
            self.proposer.agent.close()

    # -- input ----------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Called on the pipeline's thread: only queue, never think here."""
        if event.source != "companion":
            self._queue.put(("event", event))

    def suggest(self, timeout: float | None = None) -> StepOutcome:
        """Run one step now on the latest events (no budget), from any thread; waits for the result."""
        future: Future[StepOutcome] = Future()
        self._queue.put(("suggest", future))
        return future.result(timeout)

    # -- the worker -----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                kind, item = self._queue.get(timeout=0.25)
            except queue.Empty:
                kind, item = "tick", None
            try:
                if kind == "stop":
                    return
                if kind == "load":
                    self._ensure_proposer()
                elif kind == "event":
                    trigger = self.rules.observe(item, time.time())
                    if trigger is not None:
                        self._on_trigger(self._newest_trigger(trigger))
                elif kind == "suggest":
                    self._run_suggest(item)
                elif kind == "settings":
                    self._take_settings(item)
                due = self.rules.idle_due(time.time())
                if due is not None:
                    self._on_trigger(due)
            except Exception:  # the engine survives its own bugs; the daemon goes on
                log.exception("engine step failed")

    def _newest_trigger(self, trigger: Trigger) -> Trigger:
        """Events that queued up while the model ran: act on the newest salient one only."""
        newest = trigger
        pending: list[Any] = []
        while True:
            try:
                kind, item = self._queue.get_nowait()
            except queue.Empty:
                break
            if kind == "event":
                found = self.rules.observe(item, time.time())
                newest = found or newest
            else:
                pending.append((kind, item))
        for entry in pending:
            self._queue.put(entry)
        return newest

    def _ensure_proposer(self, with_agent: bool = False) -> Proposer:
        """The proposer (rules and gate); with its model too, once the backend can be loaded, when
        `with_agent` (the model thread and `suggest` ask for it; the rules never wait for a load)."""
        if self.proposer is None:
            with self._proposer_lock:  # the engine and model threads both ask at start: build it once
                if self.proposer is None:
                    self._build_proposer(None)
        if with_agent and self.proposer.agent is None:
            with self._agent_lock:
                if self.proposer.agent is None:
                    agent = self._load_agent()
                    if agent is not None:
                        self.proposer.backend_name = getattr(agent.backend, "name", "")
                        self.proposer.agent = agent
        return self.proposer

    def _build_proposer(self, agent: Agent | None) -> Proposer:
        """The rules and the gate of the current config, around `agent` (None: loaded later)."""
        gate = self._gate
        if gate is _AUTO:
            gate, why = load_gate(self.config, self.store, self.workspace)
            if why:
                self._note(why)
        quickfix = getattr(self.config, "quickfix", None)
        book = RuleBook.from_config(self.config) if getattr(quickfix, "enabled", True) else RuleBook([])
        self.proposer = Proposer(agent, gate, self.store, self.workspace, self.daemon.redactor,  # type: ignore[arg-type]
                                 lambda: self.config.general.interruption_level, rules=book,
                                 refine=getattr(quickfix, "refine", True))
        return self.proposer

    def settings_changed(self, keys: list[str]) -> None:
        """Live settings (companion/services/settings.py): the level and budget are read where used;
        a changed backend, model, gate or rule set is reloaded on the worker, between steps."""
        self._queue.put(("settings", list(keys)))

    def _take_settings(self, keys: list[str]) -> None:
        sections = {key.split(".", 1)[0] for key in keys}
        proposer = self.proposer
        if proposer is None:
            return
        if "agent" in sections:
            with self._agent_lock:
                # not closed here: the model thread may be in a step with it; it goes with its last reference
                proposer.agent = None
                self._backend = None  # an injected backend is the old one; the factory reads the new config
                self._unavailable_until, self._unavailable_wait = 0.0, UNAVAILABLE_BACKOFF_S[0]
                self._reported.clear()
        if sections & {"gate", "quickfix"}:
            with self._agent_lock:
                self._build_proposer(proposer.agent)  # the model thread asks for the new one at its next step

    def _load_agent(self) -> Agent | None:
        if self._backing_off():
            return None
        try:
            backend = self._backend or self._backend_factory()
        except BackendUnavailable as exc:
            self._unavailable(str(exc))
            return None
        except Exception as exc:
            log.exception("the agent backend could not be loaded")
            self._unavailable(f"the agent model could not be loaded: {exc}")
            return None
        if getattr(backend, "note", ""):
            self._note(backend.note)
        return Agent.from_config(backend, self.config, self.workspace)

    def _on_trigger(self, trigger: Trigger) -> None:
        self.stats["triggers"] += 1
        self.stats["last_trigger"] = trigger.reason
        hold = self.budget.hold_reason()
        if hold is not None and not hold.startswith(COOLING_DOWN):
            self._held(trigger, hold)
            return
        started = time.monotonic()
        proposer = self._ensure_proposer()
        ctx = proposer.context(trigger)
        if ctx is None:
            return
        first = proposer.from_rules(ctx)
        if hold is not None:  # cooling down: only a surer follow-up of the open proposal may replace it
            earlier = self._follow_up(first.proposal) if first.proposal is not None else None
            if earlier is None:
                self._held(trigger, hold)
                return
        offered = self._deliver(first.proposal) if first.proposal is not None else None
        self.stats["last_rules_s"] = round(time.monotonic() - started, 3)
        if hold is None or offered is not None:
            self.model.submit(ModelJob(ctx, first, offered))  # the model refines later, on its own thread

    def _held(self, trigger: Trigger, hold: str) -> None:
        self.stats["held"] += 1
        self.stats["last_hold"] = hold
        log.info("trigger %s held back: %s", trigger.reason, hold)

    def _follow_up(self, proposal: Proposal) -> Proposal | None:
        """The rules' open proposal of a moment ago that this one, surer, should replace in place: one
        failure often gives two events (the test report, then the command's end) and the second
        carries more evidence (the suspects since the last green run)."""
        if not proposal.rule or not proposal.surfaced:
            return None
        since = time.time() - FOLLOW_UP_S
        for earlier in self.store.proposals(workspace=str(self.workspace), statuses=["open"], since=since):
            if earlier.rule and earlier.surfaced and (earlier.confidence or 0) < (proposal.confidence or 0):
                return earlier
        return None

    def _deliver(self, proposal: Proposal) -> Proposal | None:
        """Offer a new proposal unless it repeats a recent one; the budget is asked again (something may
        have changed while it was prepared)."""
        earlier = self._follow_up(proposal)
        if earlier is not None:
            proposal.id, proposal.ts = earlier.id, earlier.ts
            self._update(proposal)
            return proposal
        repeated = self.budget.repeats(proposal.task or "") if proposal.surfaced else None
        if repeated is not None:
            log.info("dropped %r: it repeats %r, answered or offered just now", proposal.task, repeated)
            return None
        hold = self.budget.hold_reason() if proposal.surfaced else None
        if hold is not None:
            proposal.surfaced, proposal.status = False, "silent"
        self._offer(proposal)
        return proposal

    def _update(self, proposal: Proposal, expected_task: str | None = None) -> None:
        """A proposal already offered, improved: same id, stored again and published as "updated" —
        unless the user answered it meanwhile, or (`expected_task`) it changed since the model began."""
        stored = self.store.proposal(proposal.id)
        if stored is None or stored.status not in ("open", "silent"):
            return
        if expected_task is not None and stored.task != expected_task:
            return
        proposal.status, proposal.surfaced = stored.status, stored.surfaced
        proposal.workspace = str(self.workspace)
        self.store.save_proposal(proposal)
        self.daemon.publish("proposal", {"proposal": proposal.to_dict(), "change": "updated"})
        self.stats["updated"] = self.stats.get("updated", 0) + 1

    def _model_step(self, proposer: Proposer, ctx: Any, first: StepOutcome) -> StepOutcome | None:
        agent = proposer.agent
        if agent is None or self._backing_off():
            return None
        started = time.monotonic()
        try:
            outcome = proposer.with_model(ctx, first)
        except BackendUnavailable as exc:
            if self._backend is None:
                proposer.agent = None
            self._unavailable(str(exc))
            return None
        self.stats["steps"] += 1
        self.stats["last_step_s"] = round(time.monotonic() - started, 3)
        if agent.timeouts_in_a_row >= TIMEOUTS_BEFORE_BACKOFF:  # a hanging server: as if it were down
            name = getattr(agent.backend, "name", "") or "agent"
            self._unavailable(f"the {name} model did not answer within {agent.timeout_s:g} s, "
                              f"{TIMEOUTS_BEFORE_BACKOFF} times in a row (is the server hanging, or the machine "
                              "too busy?); model steps back off, the rules go on")
        elif agent.timeouts_in_a_row == 0:
            self._unavailable_wait = UNAVAILABLE_BACKOFF_S[0]
        return outcome

    def _step(self, trigger: Trigger) -> StepOutcome | None:
        """Rules and model in one go (`companion suggest`); None when neither can say anything."""
        proposer = self._ensure_proposer(with_agent=True)
        ctx = proposer.context(trigger)
        if ctx is None:
            return StepOutcome(None, None, note="no events recorded yet")
        first = proposer.from_rules(ctx)
        later = self._model_step(proposer, ctx, first)
        if later is not None and (later.proposal is not None or first.proposal is None):
            return later
        if first.proposal is None and (proposer.agent is None or self._backing_off()):
            return None
        return first

    def _offer(self, proposal: Proposal) -> None:
        self.daemon.offer(proposal)
        self.stats["proposals"] += 1
        self.stats["surfaced"] += int(proposal.surfaced)

    def _run_suggest(self, future: Future[StepOutcome]) -> None:
        if future.done():
            return
        try:
            latest = self._latest_event()
            reason = salient_reason(latest, todos=True) if latest is not None else None
            outcome = self._step(Trigger(reason or "manual", latest))
            if outcome is None:
                raise BackendUnavailable(self.notes[-1] if self.notes else "the agent model is not available")
            if outcome.proposal is not None:
                self._offer(outcome.proposal)
            future.set_result(outcome)
        except BaseException as exc:
            future.set_exception(exc)

    def _latest_event(self) -> Event | None:
        events = self.store.events(workspace=str(self.workspace), limit=1, newest_first=True)
        return events[0] if events and events[0].source != "companion" else None

    # -- problems -------------------------------------------------------------------------
    def _note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)
            log.warning("%s", message)

    def _backing_off(self) -> bool:
        return time.time() < self._unavailable_until

    def _unavailable(self, message: str) -> None:
        self._unavailable_until = time.time() + self._unavailable_wait
        self._unavailable_wait = min(self._unavailable_wait * 2, UNAVAILABLE_BACKOFF_S[1])
        self._note(message)
        if message not in self._reported:  # one clear message in the event stream, not one per trigger
            self._reported.add(message)
            self.daemon.submit(Event(source="companion", kind="companion.error", workspace=str(self.workspace),
                                     data={"watcher": "agent", "message": message}))

    # -- expiry ---------------------------------------------------------------------------
    def _expire_loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.expire()
                self.wake_snoozed()
            except Exception:
                log.exception("expiring proposals failed")

    def expire(self, now: float | None = None) -> int:
        return expire_unanswered(self.daemon, self.store, str(self.workspace), self.config.engine.expire_s, now)

    def wake_snoozed(self, now: float | None = None) -> int:
        return wake_snoozed(self.daemon, self.store, str(self.workspace), self.config.engine.snooze_s, now)

    # -- socket operations ----------------------------------------------------------------
    def _op_suggest(self, request: dict[str, Any], _conn: Any) -> dict[str, Any]:
        timeout = float(request.get("timeout") or self.config.agent.timeout_s + 120.0)
        outcome = self.suggest(timeout)
        step = outcome.step
        return {"proposal": outcome.proposal.to_dict() if outcome.proposal else None, "note": outcome.note,
                "threshold": self.proposer.threshold() if self.proposer else None,
                "seconds": step.seconds if step else None, "problem": step.reply.problem if step else None,
                "raw": step.reply.raw if step else None}

    def _op_pause(self, request: dict[str, Any], _conn: Any) -> dict[str, Any]:
        seconds = float(request["seconds"])
        if seconds <= 0:
            raise ValueError("pause needs a positive duration")
        return {"paused_until": self.budget.pause(seconds)}

    def _op_resume(self, _request: dict[str, Any], _conn: Any) -> dict[str, Any]:
        self.budget.resume()
        return {"paused_until": None}

    def status(self) -> dict[str, Any]:
        """The engine's figures, plus `agent` and `gate` objects that clients (the dashboard's
        Models screen, `companion.status`) show as they are."""
        proposer = self.proposer
        agent = proposer.agent if proposer is not None else None
        backend = getattr(agent.backend, "name", None) if agent is not None else None
        model = getattr(agent.backend, "model_name", None) if agent is not None else None
        gate = proposer.gate if proposer else None
        level = self.config.general.interruption_level
        agent_info: dict[str, Any] = {"backend": backend or self.config.agent.backend,
                                      "model": model or self.config.agent.model or None, "loaded": agent is not None}
        if self._backing_off() and self.notes:
            agent_info.update(ok=False, error=self.notes[-1])
        elif agent is not None:
            agent_info["ok"] = True
        gate_info: dict[str, Any] = {"kind": getattr(gate, "name", None) or self.config.gate.kind, "level": level}
        if gate is not None:
            try:
                table = gate.thresholds()
                gate_info["threshold"] = table[level]
                gate_info["thresholds"] = {str(k): float(v) for k, v in sorted(table.items())}  # the one table clients use
                described = gate.describe() if hasattr(gate, "describe") else {}
                if described.get("encoder"):
                    gate_info["encoder"] = described["encoder"]  # onnx or numpy: the gate's speed depends on it
                if described.get("cv_accuracy") is not None:
                    gate_info["training"] = {"cv_accuracy": described["cv_accuracy"], "cv_f1": described.get("cv_f1"),
                                             "heldout_accuracy": described.get("heldout_accuracy"),
                                             "heldout_f1": described.get("heldout_f1"),
                                             "memory": described.get("memory"), "weights": described.get("weights")}
            except Exception:  # a gate that cannot describe itself still gates
                log.exception("gate status failed")
        return {"engine": {**self.stats, "budget": self.budget.snapshot(), "notes": list(self.notes),
                           "backend": backend, "model": model, "gate": gate_info["kind"],
                           "loaded": agent is not None, "pending_edits": self.rules.pending_burst,
                           "rules": proposer.rules.status() if proposer is not None else None},
                "agent": agent_info, "gate": gate_info}
