"""From a trigger to a gated Proposal: context, one agent step, the reward gate's score.

Shared by the engine (automatic triggers) and `companion suggest` (the same step on demand), so
both store proposals the same way: with the gate's score, whether the gate let it through, the
trigger and the ids of the events the model saw.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from companion.agent.parse import AgentReply
from companion.agent.runner import Agent, StepResult
from companion.engine.context import editor_focus_event, focus_for, observations_of, recent_events, recent_feedback
from companion.engine.triggers import Trigger
from companion.gate.base import Gate, threshold_for
from companion.proposals import Proposal
from companion.redact import Redactor
from companion.store import Store

log = logging.getLogger(__name__)
FEEDBACK_WINDOW_S = 2 * 3600
MAX_EVENT_IDS = 20


@dataclass
class StepOutcome:
    """What one step produced: a proposal (None for "no task") and the agent's raw result."""

    proposal: Proposal | None
    step: StepResult | None
    silence_score: float | None = None
    note: str = ""


def load_gate(config: Any, store: Store | None = None, workspace: Path | None = None) -> tuple[Gate | None, str]:
    """The configured reward gate, or (None, why) when it cannot be loaded."""
    try:
        from companion.gate import load_gate as factory  # type: ignore[attr-defined]
    except ImportError:
        return None, "the reward gate is not available in this version; proposals are not gated"
    try:
        return factory(config, store=store, workspace=workspace), ""
    except Exception as exc:  # a broken gate model must not stop proposals from being stored
        log.exception("the reward gate could not be loaded")
        return None, f"the reward gate could not be loaded ({exc}); proposals are not gated"


class Proposer:
    def __init__(self, agent: Agent, gate: Gate | None, store: Store, workspace: Path, redactor: Redactor,
                 interruption_level: int = 3, backend_name: str = "") -> None:
        self.agent = agent
        self.gate = gate
        self.store = store
        self.workspace = workspace
        self.redactor = redactor
        self.level = interruption_level
        self.backend_name = backend_name or getattr(agent.backend, "name", "")

    def threshold(self) -> float | None:
        return threshold_for(self.gate, self.level) if self.gate is not None else None

    def propose(self, trigger: Trigger) -> StepOutcome:
        workspace = str(self.workspace)
        until = trigger.event.ts + 0.001 if trigger.event is not None else None
        events = recent_events(self.store, workspace, until=until)
        if trigger.event is not None and all(e.id != trigger.event.id for e in events):
            events.append(trigger.event)  # not stored yet (a race with the pipeline) but it is the reason
        if not events:
            return StepOutcome(None, None, note="no events recorded yet")
        observations = observations_of(events)
        feedback = recent_feedback(self.store, workspace, since=time.time() - FEEDBACK_WINDOW_S)
        focus = focus_for(trigger.event, self.workspace, self.redactor) or \
            focus_for(editor_focus_event(events), self.workspace, self.redactor)
        prepare = getattr(self.gate, "prepare", None)
        if prepare is not None:
            prepare(observations)  # the gate embeds the history while the agent thinks
        step = self.agent.step(observations, feedback, focus)
        reply: AgentReply = step.reply
        if not reply.is_task:
            return StepOutcome(None, step, note=reply.problem or "the agent proposes nothing")
        score = self.gate.score(observations, reply.task) if self.gate is not None else None
        threshold = self.threshold()
        passed = score is None or threshold is None or score >= threshold
        ids = [e.id for e in events][-MAX_EVENT_IDS:]
        if trigger.event is not None and trigger.event.id in ids:
            ids.remove(trigger.event.id)
        if trigger.event is not None:
            ids.insert(0, trigger.event.id)  # the event that woke the agent comes first
        proposal = Proposal(task=reply.task, response=reply.response, operation=reply.operation, purpose=reply.purpose,
                            thoughts=reply.thoughts, path=reply.path, line=reply.line, score=score, surfaced=passed,
                            status="open" if passed else "silent", trigger=trigger.reason, event_ids=ids,
                            backend=self.backend_name, workspace=workspace)
        note = "" if passed else f"the gate kept it back (score {score:.2f} < {threshold:.2f})"
        return StepOutcome(proposal, step, note=note)
