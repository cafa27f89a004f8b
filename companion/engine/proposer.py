"""From a trigger to a gated Proposal: the quick-fix rules first (instant), then the model on top.

1. `context(trigger)`: the recent observations, feedback, the focused file, and the Moment the
   rules read (the trigger event with its evidence).
2. `from_rules(ctx)`: every rule's candidates, scored by the gate on the observations plus the
   candidate's evidence; the best becomes the proposal (rule, evidence, confidence set).
3. `with_model(ctx, first)`: the agent sees the evidence and the candidates. It may choose one and
   phrase why (the proposal is improved in place, same id), or, when no rule found anything,
   propose its own help — kept only if it is grounded (companion/agent/grounding.py), otherwise
   stored as dropped with the reason.

Shared by the engine (automatic triggers: rules are offered at once, the model refines later) and
`companion suggest` (`propose`: both steps in one call).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from companion.agent import grounding
from companion.agent.parse import AgentReply, is_echo
from companion.agent.prompt import FocusedFile
from companion.agent.runner import Agent, StepResult
from companion.engine.budget import similar_tasks
from companion.engine.context import editor_focus_event, focus_for, observations_of, recent_events, recent_feedback
from companion.engine.triggers import Trigger
from companion.events import Event, thaw
from companion.gate.base import Gate, threshold_for
from companion.proposals import Proposal
from companion.quickfix import Candidate, Moment, RuleBook
from companion.quickfix.why import evidence_observation, why_text
from companion.redact import Redactor
from companion.store import Store

log = logging.getLogger(__name__)
FEEDBACK_WINDOW_S = 2 * 3600
MAX_EVENT_IDS = 20
MAX_ALTERNATIVES = 3


@dataclass
class StepOutcome:
    """What one step produced: a proposal (None for "no task") and the agent's raw result."""

    proposal: Proposal | None
    step: StepResult | None
    note: str = ""
    candidates: list[Candidate] = field(default_factory=list)


@dataclass
class StepContext:
    trigger: Trigger
    events: list[Event]
    observations: list[dict[str, str]]
    feedback: list[Any]
    focus: FocusedFile | None
    moment: Moment
    event_ids: list[str]


def load_gate(config: Any, store: Store | None = None, workspace: Path | None = None) -> tuple[Gate | None, str]:
    """The configured reward gate, or (None, why) when it cannot be loaded."""
    from companion.gate import load_gate as factory

    try:
        return factory(config, store=store, workspace=workspace), ""
    except Exception as exc:  # a broken gate model must not stop proposals from being stored
        log.exception("the reward gate could not be loaded")
        return None, f"the reward gate could not be loaded ({exc}); proposals are not gated"


def surfacing_score(confidence: float, gate_score: float | None,
                    user_view: tuple[float, float] | None = None) -> float | None:
    """A rule's candidate is judged on two estimates: the rule's confidence (how surely the evidence
    points to this help) and the gate's (whether this user accepts help here). Either may vouch for
    it (noisy-OR): the shipped gate, trained on ProactiveBench, scores `git status` for `gti status`
    near 0, and must not hide what the evidence makes plain; a trained gate raises good help further.
    The user's own answers on alike help (`user_view`: the share of accepts and how far to trust
    it, from the reward gate's preference recall) overrule both as far as they go: one rejection
    of the same help brings a 0.95 down to 0.36, under level 3's threshold, so help this user
    keeps rejecting goes quiet however plain the evidence. The learning harness decides with the
    same function (training/learning/replay.py `decide`)."""
    if gate_score is None:
        return None
    score = 1.0 - (1.0 - confidence) * (1.0 - gate_score)
    if user_view is not None:
        accepted, trust = user_view
        score = (1.0 - trust) * score + trust * accepted
    return score


def candidate_observation(candidate: Candidate, ts: float) -> dict[str, str]:
    """The candidate's evidence as one more observation, so the gate judges the help, not only the situation."""
    return evidence_observation(candidate.evidence, candidate.rule, ts, candidate.response)


class Proposer:
    def __init__(self, agent: Agent | None, gate: Gate | None, store: Store, workspace: Path, redactor: Redactor,
                 interruption_level: int | Callable[[], int] = 3, backend_name: str = "", rules: RuleBook | None = None,
                 refine: bool = True) -> None:
        self.agent = agent
        self.gate = gate
        self.store = store
        self.workspace = workspace
        self.redactor = redactor
        self._level = interruption_level  # a callable reads the live setting at each step
        self.backend_name = backend_name or (getattr(agent.backend, "name", "") if agent is not None else "")
        self.rules = rules if rules is not None else RuleBook()
        self.refine = refine

    @property
    def level(self) -> int:
        return self._level() if callable(self._level) else self._level

    @level.setter
    def level(self, value: int) -> None:
        self._level = value

    def threshold(self) -> float | None:
        return threshold_for(self.gate, self.level) if self.gate is not None else None

    # -- 1. what the step sees -------------------------------------------------------------------
    def context(self, trigger: Trigger) -> StepContext | None:
        workspace = str(self.workspace)
        until = trigger.event.ts + 0.001 if trigger.event is not None else None
        events = recent_events(self.store, workspace, until=until)
        if trigger.event is not None and all(e.id != trigger.event.id for e in events):
            events.append(trigger.event)  # not stored yet (a race with the pipeline) but it is the reason
        if not events:
            return None
        feedback = recent_feedback(self.store, workspace, since=time.time() - FEEDBACK_WINDOW_S)
        focus = focus_for(trigger.event, self.workspace, self.redactor) or \
            focus_for(editor_focus_event(events), self.workspace, self.redactor)
        ids = [e.id for e in events][-MAX_EVENT_IDS:]
        if trigger.event is not None:
            if trigger.event.id in ids:
                ids.remove(trigger.event.id)
            ids.insert(0, trigger.event.id)  # the event that woke the agent comes first
        moment = Moment(trigger.reason, trigger.event, self.workspace, recent=events[:-1])
        return StepContext(trigger, events, observations_of(events), feedback, focus, moment, ids)

    def propose(self, trigger: Trigger) -> StepOutcome:
        """Rules, then the model, in one call (`companion suggest`)."""
        ctx = self.context(trigger)
        if ctx is None:
            return StepOutcome(None, None, note="no events recorded yet")
        first = self.from_rules(ctx)
        later = self.with_model(ctx, first)
        return later if later is not None and (later.proposal is not None or first.proposal is None) else first

    # -- 2. the rules ----------------------------------------------------------------------------
    def from_rules(self, ctx: StepContext) -> StepOutcome:
        candidates = self.rules.candidates(ctx.moment)
        if not candidates:
            return StepOutcome(None, None, note="no rule applies")
        scores = self._scores(ctx, candidates)
        order = sorted(range(len(candidates)), key=lambda i: -self._rank(candidates[i], scores[i]))
        ranked = [candidates[i] for i in order]
        best, score = ranked[0], scores[order[0]]
        proposal = self._proposal(ctx, best, score, ranked)
        note = "" if proposal.surfaced else f"the gate kept it back (score {proposal.score:.2f} < {self.threshold():.2f})"
        return StepOutcome(proposal, None, note=note, candidates=ranked)

    def _scores(self, ctx: StepContext, candidates: Sequence[Candidate]) -> list[float | None]:
        if self.gate is None:
            return [None] * len(candidates)
        ts = ctx.trigger.event.ts if ctx.trigger.event is not None else time.time()
        pairs = [(ctx.observations + [candidate_observation(c, ts)], c.task) for c in candidates]
        try:
            return list(self.gate.score_batch(pairs))
        except Exception:  # a gate that fails must not lose the rules' help: rank by confidence
            log.exception("the gate could not score the quick-fix candidates")
            return [None] * len(candidates)

    @staticmethod
    def _rank(candidate: Candidate, score: float | None) -> float:
        return candidate.confidence if score is None else 0.5 * candidate.confidence + 0.5 * score

    def _passes(self, score: float | None) -> bool:
        threshold = self.threshold()
        return score is None or threshold is None or score >= threshold

    def _user_view(self, ctx: StepContext, candidate: Candidate) -> tuple[float, float] | None:
        """The user's answers on help alike to `candidate` (None for gates that keep none)."""
        view = getattr(self.gate, "user_view", None)
        if view is None:
            return None
        ts = ctx.trigger.event.ts if ctx.trigger.event is not None else time.time()
        try:
            return view([(ctx.observations + [candidate_observation(candidate, ts)], candidate.task)])[0]
        except Exception:  # the user's answers are a refinement: never lose the rules' help over them
            log.exception("the gate could not recall the user's answers on alike help")
            return None

    def _proposal(self, ctx: StepContext, best: Candidate, gate_score: float | None, ranked: Sequence[Candidate],
                  keep: Proposal | None = None) -> Proposal:
        user_view = self._user_view(ctx, best) if gate_score is not None else None
        score = surfacing_score(best.confidence, gate_score, user_view)
        passed = self._passes(score)
        evidence = dict(best.evidence)
        if gate_score is not None:
            evidence["gate_score"] = round(gate_score, 4)
        if user_view is not None and user_view[1] > 0:
            evidence["user_answers"] = {"accepted_share": round(user_view[0], 3), "trust": round(user_view[1], 3)}
        others = [c for c in ranked if c is not best][:MAX_ALTERNATIVES]
        if others:
            evidence["alternatives"] = [{k: c.to_dict()[k] for k in ("rule", "task", "operation", "response", "path", "line")}
                                        for c in others]
        proposal = Proposal(task=best.task, response=best.response, operation=best.operation, path=best.path,
                            line=best.line, thoughts=why_text(best.evidence, best.rule), score=score, surfaced=passed,
                            status="open" if passed else "silent", trigger=ctx.trigger.reason,
                            event_ids=list(ctx.event_ids), backend="rules", workspace=str(self.workspace),
                            rule=best.rule, evidence=evidence, confidence=round(best.confidence, 3))
        if keep is not None:
            proposal.id, proposal.ts = keep.id, keep.ts
        return proposal

    # -- 3. the model ----------------------------------------------------------------------------
    def with_model(self, ctx: StepContext, first: StepOutcome) -> StepOutcome | None:
        """The model's step on top of the rules' result; None when it changes nothing."""
        if self.agent is None or (first.candidates and not self.refine):
            return None
        shown = [c.to_dict() for c in first.candidates]
        evidence = ctx.moment.evidence or None
        prepare = getattr(self.gate, "prepare", None)
        if prepare is not None and not first.candidates:
            prepare(ctx.observations)  # the gate embeds the history while the agent thinks
        step = self.agent.step(ctx.observations, ctx.feedback, ctx.focus, evidence=evidence, candidates=shown)
        reply: AgentReply = step.reply
        if not reply.is_task:
            return None if first.proposal is not None else StepOutcome(None, step, note=reply.problem or "the agent proposes nothing")
        if first.candidates:
            return self._refined(ctx, first, reply, step)
        return self._own(ctx, reply, step)

    def _refined(self, ctx: StepContext, first: StepOutcome, reply: AgentReply, step: StepResult) -> StepOutcome | None:
        """The model chose a candidate (by its task, its place or its command): the proposal is that
        candidate, with the model's words for why; same id, so it is updated, not sent again."""
        chosen = next((c for c in first.candidates if self._same_help(reply, c)), None)
        if chosen is None or first.proposal is None:
            log.info("the model's answer %r matches no rule candidate; the rules' proposal stays", reply.task)
            return None
        scores = self._scores(ctx, [chosen]) if chosen is not first.candidates[0] else \
            [first.proposal.evidence.get("gate_score")]
        proposal = self._proposal(ctx, chosen, scores[0], first.candidates, keep=first.proposal)
        words = [t for t in (reply.purpose, reply.thoughts) if t and not is_echo(t)]
        if words:
            proposal.purpose = reply.purpose if reply.purpose and not is_echo(reply.purpose) else ""
            proposal.thoughts = (reply.thoughts if reply.thoughts and not is_echo(reply.thoughts) else "") or proposal.thoughts
        proposal.backend = f"rules+{self.backend_name}" if self.backend_name else "rules"
        return StepOutcome(proposal, step, candidates=first.candidates)

    @staticmethod
    def _same_help(reply: AgentReply, candidate: Candidate) -> bool:
        if reply.task and (reply.task.strip() == candidate.task or similar_tasks(reply.task, candidate.task)):
            return True
        if reply.operation == candidate.operation == "run_command" and reply.response.strip() == candidate.response.strip():
            return True
        return bool(reply.path and reply.path == candidate.path and reply.operation == candidate.operation)

    def _own(self, ctx: StepContext, reply: AgentReply, step: StepResult) -> StepOutcome:
        """The model's own task: surfaced only if grounded; otherwise stored as dropped, with why."""
        data = thaw(ctx.trigger.event.data) if ctx.trigger.event is not None else {}
        terms = grounding.evidence_terms(data)
        check = grounding.check(reply.task or "", reply.response, reply.path, terms, self.workspace, ctx.moment.cwd)
        base = dict(task=reply.task, response=reply.response, operation=reply.operation, purpose=reply.purpose,
                    thoughts=reply.thoughts, path=reply.path, line=reply.line, trigger=ctx.trigger.reason,
                    event_ids=list(ctx.event_ids), backend=self.backend_name, workspace=str(self.workspace))
        if not check.ok:
            log.info("dropped the model's task %r as %s", reply.task, check.reason)
            proposal = Proposal(**base, surfaced=False, status="silent", evidence={"dropped": check.reason})
            return StepOutcome(proposal, step, note=f"dropped: {check.reason}")
        score = self.gate.score(ctx.observations, reply.task) if self.gate is not None else None
        passed = self._passes(score)
        proposal = Proposal(**base, score=score, surfaced=passed, status="open" if passed else "silent",
                            evidence={"grounded_on": check.named})
        note = "" if passed else f"the gate kept it back (score {score:.2f} < {self.threshold():.2f})"
        return StepOutcome(proposal, step, note=note)
