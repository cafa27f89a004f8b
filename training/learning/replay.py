"""Replaying a simulated user's answers through a real store into the real gate, and measuring.

For one persona and one recorded stream:

1. the stream's moments are split (seeded) into the user's past — candidates they answer — and
   their FUTURE, candidates never answered, on which the gate is judged;
2. answers are recorded in a real SQLite store as the daemon records them (events, proposal,
   outcome), cycling through the past candidates (a user meets the same kind of moment again);
3. after 0, 10, 25, 50 and 100 answers the gate decides on every future candidate (surface when
   its score clears the level's threshold), judged against what the user would answer:
   precision, recall, F1, for the judgement memory alone (shipped heads, the store's answers),
   the retrained heads alone (no store), and both; the base gate (no answers) alongside;
4. `quiet_after_rejections`: how many rejections of one kind of help the base gate lets through
   until no future candidate of that kind surfaces; `follows_change_within`: after 50 answers the
   user changes their mind about the kind they accepted most, and this counts the answers until
   the gate's decisions on that kind agree with the new mind (80 % of the future candidates).
   Either is null with a `quiet_status` / `follows_status` saying why when it could not be
   measured — above all when the base gate already holds back every unwelcome kind: 0 rejections
   there would be the base gate's doing, not learning, and must not count as the goal met.

A user with no answers, or only accepts or only rejects, gets the base heads (the memory still
reads what there is), with the reason in the point's `heads_status`. The result has the same keys
whatever happened (a stream too small to split, a spent budget), so `--json` readers need not guess.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from companion.engine.proposer import surfacing_score
from companion.events import Event
from companion.gate.reward import SHIPPED_DIR, RewardGate
from companion.gate.reward_data import RewardRow
from companion.proposals import Outcome, Proposal
from companion.store import Store
from training.learning.personas import Persona, changed_mind
from training.learning.retrain import HeadTrainer
from training.learning.stream import Candidate, moments_of
from training.reward.budget import BudgetExceeded, Deadline

CHECKPOINTS = (0, 10, 25, 50, 100)
MODES = ("memory", "heads", "both")
QUIET_MAX = 10  # rejections tried before "does not go quiet"
FOLLOW_MAX = 20  # answers tried after a change of mind
FOLLOWED = 0.8  # share of the changed kind's future candidates decided the new way

# why a figure is null (its `*_status`); a null figure with no status means "not within the maximum"
TOO_SMALL = "not measured: the stream is too small to split into answered and future moments"
OUT_OF_TIME = "skipped: the time budget is spent"
BASE_QUIET = "not measured: the base gate already holds back every kind of help this user rejects"
NO_UNWELCOME = "not measured: no kind of help this user rejects comes up in their future moments"
NO_WELCOMED = "not measured: this user welcomed no kind of help to change their mind about"
NO_TARGETS = "not measured: the kind of help they welcomed most does not come up in their future moments"
NO_KINDS = "not measured: ProactiveBench sessions have no kinds of help"


@dataclass
class LearningConfig:
    checkpoints: tuple[int, ...] = CHECKPOINTS
    level: int = 3  # interruption level whose threshold decides "surfaced"
    seed: int = 0
    future_share: float = 0.4  # of the moments, never answered: the user's future
    max_future: int = 80  # future candidates judged (evenly spread) — bounds the time per point
    retrain: bool = True  # the "heads" and "both" modes (retraining costs most of the time)
    epochs: int = 150
    members: int = 1  # ensemble members per retrained head (the shipped heads have 3; time)
    budget_s: float = 1800.0  # the whole run; points past it are marked skipped, never silently dropped
    change_after: int = 50


@dataclass
class Figures:
    precision: float
    recall: float
    f1: float
    surfaced: int

    @staticmethod
    def of(truth: Sequence[bool], decided: Sequence[bool]) -> "Figures":
        tp = sum(t and d for t, d in zip(truth, decided))
        fp = sum(d and not t for t, d in zip(truth, decided))
        fn = sum(t and not d for t, d in zip(truth, decided))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return Figures(round(precision, 4), round(recall, 4), round(f1, 4), tp + fp)


@dataclass
class Session:
    """One simulated user: their store, their answers so far, and the gates that read them."""

    persona: Persona
    folder: Path
    base_weights: Path
    base_rows: Sequence[RewardRow] | None
    encoder: Any
    workspace: str = ""
    answers: list[tuple[Candidate, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workspace = self.workspace or f"/simulated/{self.persona.name}"
        self.store = Store(self.folder / "store.db")
        self.memory_gate = self.gate(self.base_weights, with_store=True)
        self._clock = 1_800_000_000.0

    def gate(self, weights: Path, with_store: bool) -> RewardGate:
        return RewardGate(weights, encoder=self.encoder, store=self.store if with_store else None,
                          workspace=self.workspace, base_rows=self.base_rows)

    def answer(self, candidate: Candidate, persona: Persona | None = None) -> str:
        """Record the user's answer as the daemon would: the events, the proposal, the outcome."""
        verdict = (persona or self.persona).answer(candidate)
        events = []
        for observation in candidate.obs:
            self._clock += 1.0
            events.append(Event("companion", "companion.replayed", {"sentence": observation["event"]},
                                self.workspace, ts=self._clock))
        self.store.add_events(events)
        proposal = Proposal(task=candidate.task, operation=candidate.operation, rule=candidate.rule, surfaced=True,
                            status="open", event_ids=[e.id for e in events], workspace=self.workspace, ts=self._clock,
                            evidence=dict(candidate.evidence), response=candidate.response)
        self.store.save_proposal(proposal)
        self._clock += 5.0
        self.store.record_outcome(Outcome(proposal.id, verdict, answer_s=5.0, via="simulated", ts=self._clock))
        self.answers.append((candidate, verdict))
        self.memory_gate.forget_cache()
        return verdict

    def user_rows(self) -> list[RewardRow]:
        return [RewardRow(tuple(c.gate_observations()), c.task, verdict == "accepted") for c, verdict in self.answers]

    def close(self) -> None:
        self.store.close()


def decide(gate: RewardGate, candidates: Sequence[Candidate], level: int) -> list[bool]:
    """Surfaced or not, as the engine decides: a rule's candidate on its confidence, the gate and
    the user's answers on alike help (companion/engine/proposer.py `surfacing_score`), the model's
    own on the gate alone."""
    threshold = gate.thresholds()[level]
    pairs = [(c.gate_observations(), c.task) for c in candidates]
    scores = gate.score_batch(pairs)
    views = gate.user_view(pairs)
    decided = []
    for candidate, score, view in zip(candidates, scores, views):
        if candidate.rule and candidate.confidence is not None:
            score = surfacing_score(candidate.confidence, score, view)
        decided.append(score >= threshold)
    return decided


def split_moments(candidates: Sequence[Candidate], cfg: LearningConfig) -> tuple[list[Candidate], list[Candidate]]:
    """(past: answered, future: judged) by moment, so no future moment is ever answered."""
    moments = moments_of(candidates)
    random.Random(cfg.seed).shuffle(moments)
    future_moments = set(moments[:max(1, round(len(moments) * cfg.future_share))])
    past = [c for c in candidates if c.moment not in future_moments]
    future = [c for c in candidates if c.moment in future_moments]
    if len(future) > cfg.max_future:
        step = len(future) / cfg.max_future
        future = [future[int(i * step)] for i in range(cfg.max_future)]
    return past, future


def answer_order(past: Sequence[Candidate], count: int, seed: int) -> list[Candidate]:
    """`count` past candidates: shuffled passes over all of them (a kind of moment comes again)."""
    if not past:
        return []
    rng = random.Random(seed + 1)
    order: list[Candidate] = []
    while len(order) < count:
        lap = list(past)
        rng.shuffle(lap)
        order.extend(lap)
    return order[:count]


def heads_status(answers: Sequence[tuple[Candidate, str]]) -> str | None:
    """Why the heads cannot be retrained yet (None: they can)."""
    accepted = sum(v == "accepted" for _, v in answers)
    if not answers:
        return "base gate: no answers yet"
    if accepted == 0:
        return "base heads: only rejections so far (the memory reads them)"
    if accepted == len(answers):
        return "base heads: only accepts so far (the memory reads them)"
    return None


class Clock(Deadline):
    """The whole run's budget (`--budget`), shared by every persona: checked before each point's
    scoring, each retraining (and every epoch of it), and each step of the quiet and follow phases."""


@dataclass(frozen=True)
class Measure:
    """A quiet or follow figure: `value` None with `status` None means "not within the maximum";
    a `status` says why it was not measured at all."""

    value: int | None
    kind: str | None
    status: str | None = None


def unmeasured(why: str) -> dict[str, Any]:
    """The quiet and follow keys of a persona whose figures could not be measured (same JSON shape)."""
    return {"quiet_after_rejections": None, "quiet_kind": None, "quiet_status": why,
            "follows_change_within": None, "changed_kind": None, "follows_status": why}


def learning_curve(persona: Persona, candidates: Sequence[Candidate], cfg: LearningConfig, encoder: Any,
                   base_weights: Path = SHIPPED_DIR, base_rows: Sequence[RewardRow] | None = None,
                   clock: Clock | None = None, tick: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """One persona's curve, quiet and follow figures (the JSON of `companion eval learning`)."""
    clock = clock or Clock(cfg.budget_s)
    past, future = split_moments(candidates, cfg)
    truth = [persona.welcomes(c) for c in future]
    result: dict[str, Any] = {"says": persona.says, "stream": persona.stream, "past_candidates": len(past),
                              "future_candidates": len(future), "future_welcome": sum(truth), "curve": []}
    if not past or not future:
        result["status"] = "the stream is too small to split into answered and future moments"
        result.update(unmeasured(TOO_SMALL))
        for _ in range(len(cfg.checkpoints) + 2):
            tick(f"{persona.name}: too small")
        return result
    with tempfile.TemporaryDirectory(prefix="learning-") as tmp:
        folder = Path(tmp)
        session = Session(persona, folder / "curve", base_weights, base_rows, encoder)
        (folder / "curve").mkdir(exist_ok=True)
        base = Figures.of(truth, decide(session.gate(base_weights, with_store=False), future, cfg.level))
        trainer = HeadTrainer(base_rows if base_rows is not None else _shipped_rows(), base_weights, encoder,
                              cfg.epochs, cfg.members) if cfg.retrain else None
        order = answer_order(past, max(cfg.checkpoints), cfg.seed)
        for n in cfg.checkpoints:
            if not clock.left():  # the memory's scoring costs time too: a spent budget skips the point
                tick(f"{persona.name}: {n} answers skipped (budget)")
                result["curve"].append(_skipped_point(n, base))
                continue
            while len(session.answers) < min(n, len(order)):
                session.answer(order[len(session.answers)])
            tick(f"{persona.name}: {len(session.answers)} answers")
            result["curve"].append(_point(session, future, truth, base, trainer, cfg, clock, folder / f"heads-{n}"))
        result["answers_given"] = {v: sum(a == v for _, a in session.answers) for v in ("accepted", "rejected", "ignored")}
        session.close()
        if persona.stream != "moments":  # one kind of help only: nothing to silence or change one's mind about
            tick(f"{persona.name}: done")
            tick(f"{persona.name}: done")
            result.update(unmeasured(NO_KINDS))
            return result
        tick(f"{persona.name}: quiet after rejections")
        quiet = quiet_after_rejections(persona, past, future, cfg, encoder, base_weights, base_rows, folder / "quiet",
                                       clock)
        result.update(quiet_after_rejections=quiet.value, quiet_kind=quiet.kind, quiet_status=quiet.status)
        tick(f"{persona.name}: change of mind")
        follows = follows_change(persona, past, future, cfg, encoder, base_weights, base_rows, folder / "change", clock)
        result.update(follows_change_within=follows.value, changed_kind=follows.kind, follows_status=follows.status)
    return result


def _shipped_rows() -> list[RewardRow]:
    from companion.gate import base_set

    return base_set.load_rows()


def _skipped_point(n: int, base: Figures) -> dict[str, Any]:
    """A checkpoint the budget did not reach: the base figures, no personal ones (never made up)."""
    return {"answers": n, "base_precision": base.precision, "base_recall": base.recall, "base_f1": base.f1,
            "status": OUT_OF_TIME, "precision": None, "recall": None, "f1": None}


def _point(session: Session, future: Sequence[Candidate], truth: Sequence[bool], base: Figures,
           trainer: HeadTrainer | None, cfg: LearningConfig, clock: Clock, out: Path) -> dict[str, Any]:
    n = len(session.answers)
    point: dict[str, Any] = {"answers": n, "base_precision": base.precision, "base_recall": base.recall,
                             "base_f1": base.f1}
    memory = Figures.of(truth, decide(session.memory_gate, future, cfg.level))
    point["memory"] = memory.__dict__
    status = heads_status(session.answers)
    if trainer is None:
        point["heads_status"] = "not retrained (--no-retrain)"
        both = memory
    elif status is not None:
        point["heads_status"] = status
        point["heads"] = base.__dict__
        both = memory
    elif not clock.left():
        point["heads_status"] = OUT_OF_TIME
        both = memory
    else:
        try:
            weights = trainer.fit(session.user_rows(), out, deadline=clock)
            point["heads"] = Figures.of(truth, decide(session.gate(weights, with_store=False), future, cfg.level)).__dict__
            both = Figures.of(truth, decide(session.gate(weights, with_store=True), future, cfg.level))
        except BudgetExceeded:
            point["heads_status"] = "skipped: the time budget ran out while retraining"
            both = memory
    point["both"] = both.__dict__
    point.update({"precision": both.precision, "recall": both.recall, "f1": both.f1})
    return point


def _kind_counts(persona: Persona, candidates: Sequence[Candidate], welcome: bool) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in candidates:
        if persona.welcomes(c) is welcome:
            counts[c.help_kind] = counts.get(c.help_kind, 0) + 1
    return counts


def quiet_after_rejections(persona: Persona, past: Sequence[Candidate], future: Sequence[Candidate],
                           cfg: LearningConfig, encoder: Any, base_weights: Path, base_rows: Sequence[RewardRow] | None,
                           folder: Path, clock: Clock | None = None) -> Measure:
    """Rejections of one unwelcome kind (the one whose future candidates the base gate surfaces
    most) until none of that kind's future candidates surfaces; value None: not within QUIET_MAX.
    Not measured (a status) when the base gate surfaces none of any unwelcome kind: there is
    nothing for the user's rejections to silence."""
    clock = clock or Clock(cfg.budget_s)
    unwelcome = [k for k in _kind_counts(persona, past, False)
                 if any(c.help_kind == k and not persona.welcomes(c) for c in future)]
    if not unwelcome:
        return Measure(None, None, NO_UNWELCOME)
    if not clock.left():
        return Measure(None, None, OUT_OF_TIME)
    folder.mkdir(parents=True, exist_ok=True)
    session = Session(persona, folder, base_weights, base_rows, encoder)
    try:
        base_gate = session.gate(base_weights, with_store=False)

        def surfaced(kind: str, gate: RewardGate) -> int:
            targets = [c for c in future if c.help_kind == kind and not persona.welcomes(c)]
            return sum(decide(gate, targets, cfg.level))

        let_through = {k: surfaced(k, base_gate) for k in unwelcome}
        kind = max(unwelcome, key=let_through.get)
        if let_through[kind] == 0:
            return Measure(None, kind, BASE_QUIET)
        rejections = answer_order([c for c in past if c.help_kind == kind and not persona.welcomes(c)],
                                  QUIET_MAX, cfg.seed)
        for k in range(QUIET_MAX + 1):
            if not clock.left():
                return Measure(None, kind, OUT_OF_TIME)
            if surfaced(kind, session.memory_gate) == 0:
                return Measure(k, kind)
            if k < len(rejections):
                session.answer(rejections[k])
        return Measure(None, kind)
    finally:
        session.close()


def follows_change(persona: Persona, past: Sequence[Candidate], future: Sequence[Candidate], cfg: LearningConfig,
                   encoder: Any, base_weights: Path, base_rows: Sequence[RewardRow] | None,
                   folder: Path, clock: Clock | None = None) -> Measure:
    """After `change_after` answers the user flips their verdict on the kind they welcomed most;
    answers (of any kind) until the memory gate agrees with the new mind on that kind's future
    candidates; value None: not within FOLLOW_MAX."""
    clock = clock or Clock(cfg.budget_s)
    welcomed = _kind_counts(persona, past, True)
    if not welcomed:
        return Measure(None, None, NO_WELCOMED)
    kind = max(welcomed, key=welcomed.get)
    targets = [c for c in future if c.help_kind == kind]
    if not targets:
        return Measure(None, kind, NO_TARGETS)
    if not clock.left():
        return Measure(None, kind, OUT_OF_TIME)
    changed = changed_mind(persona, lambda c: c.help_kind == kind)
    want = [changed.welcomes(c) for c in targets]
    folder.mkdir(parents=True, exist_ok=True)
    session = Session(persona, folder, base_weights, base_rows, encoder)
    try:
        order = answer_order(past, cfg.change_after + FOLLOW_MAX, cfg.seed)
        for candidate in order[:cfg.change_after]:
            session.answer(candidate)
        after = order[cfg.change_after:]
        for k in range(FOLLOW_MAX + 1):
            if not clock.left():
                return Measure(None, kind, OUT_OF_TIME)
            decided = decide(session.memory_gate, targets, cfg.level)
            if sum(d == w for d, w in zip(decided, want)) >= FOLLOWED * len(targets) and k > 0:
                return Measure(k, kind)
            if k < len(after):
                session.answer(after[k], changed)
        return Measure(None, kind)
    finally:
        session.close()
