"""Does the gate rank the right help above generic help? (`gate_right_above_generic`)

At every failure moment that could be driven, the right candidates are the surfaced proposals that
answered the moment's trigger and were grounded and localized (and, when their edit was tried,
fixed the tests): the ones the export labels "accepted". Each is scored by the configured gate on
the observations the engine showed the gate for it (companion/engine/proposer.py: the workspace's
recent events up to the trigger event, as `context.recent_events` reads them, plus the candidate's
evidence line, `quickfix.why.evidence_observation`), and so is every generic task of a fixed set
and silence (the "no task" score: P(staying silent is right)) on those same observations. The
moment counts when its best right candidate outscores every one of them; a failure moment without
a right candidate counts as a miss. Same observations for every task: the figure is about the
help, not about the situation.

One gate per run, loaded in the harness process from the run's config (`for_results`); the
labelled export of a run (`companion eval moments --export`) gives the same figure
(`cases_from_export`), which is how training/reward/moments.py judges gates trained with a
repository held out.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

KEY = "gate_right_above_generic"
# Help that fits any moment, so names nothing of it; silence is scored apart (the gate's no-task score).
GENERIC_TASKS = ("Help with this task right now.", "Help with the latest tests and benchmarking",
                 "Provide a list of recent changes", "Explain the error", "Summarise the project")
SILENCE = "(silence)"
RECENT_LIMIT = 40  # companion.engine.context.recent_events' default, as the proposer calls it
SKIP_KINDS = ("companion.started", "companion.stopped")  # companion.engine.context.SKIP_KINDS

Observation = dict[str, str]


@dataclass
class Case:
    """One failure moment: each right candidate with the observations the gate judged it on."""

    id: str
    category: str
    repo: str
    right: list[tuple[list[Observation], str]] = field(default_factory=list)


@dataclass
class Ranked:
    """A case as the gate scored it: the right candidate with the best margin, and the competitors'
    scores on that candidate's observations."""

    case: Case
    task: str | None = None
    score: float | None = None
    generic: dict[str, float] = field(default_factory=dict)  # generic task (or SILENCE) -> score

    @property
    def above(self) -> bool:
        return self.score is not None and all(self.score > s for s in self.generic.values())

    @property
    def best_generic(self) -> str | None:
        return max(self.generic, key=lambda k: self.generic[k]) if self.generic else None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.case.id, "category": self.case.category, "repo": self.case.repo, "above": self.above,
                "right_task": self.task, "right_score": _round(self.score), "best_generic": self.best_generic,
                "best_generic_score": _round(self.generic.get(self.best_generic)) if self.best_generic else None}


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


# -- what the gate saw ----------------------------------------------------------------------------
def event_observation(event: dict[str, Any]) -> Observation:
    """An event as the daemon returns it (its fields and the rendered sentence) as an observation."""
    from companion.render import observation, observation_time

    if event.get("text"):
        return {"time": observation_time(float(event["ts"])), "event": str(event["text"])}
    from companion.events import Event

    return observation(Event.from_dict(event))


def engine_observations(events: Sequence[dict[str, Any]], until_ts: float) -> list[Observation]:
    """The proposer's `ctx.observations`: the newest events before the trigger (`recent_events`:
    newest first, a few more than needed, the daemon's own start/stop dropped), oldest first."""
    before = sorted((e for e in events if float(e.get("ts", 0.0)) < until_ts + 0.001), key=lambda e: float(e["ts"]))
    newest = list(reversed(before))[:RECENT_LIMIT + 10]
    kept = [e for e in newest if e.get("kind") not in SKIP_KINDS][:RECENT_LIMIT]
    return [event_observation(e) for e in reversed(kept)]


def evidence_line(proposal: dict[str, Any], ts: float) -> Observation | None:
    """The candidate's evidence observation the proposer adds for a rule's candidate (None for the
    model's own task, which the gate judges on the observations alone)."""
    from companion.quickfix.why import evidence_observation

    if not proposal.get("rule"):
        return None
    return evidence_observation(proposal.get("evidence") or {}, proposal["rule"], ts, str(proposal.get("response") or ""))


def gate_observations(events: Sequence[dict[str, Any]], proposal: dict[str, Any],
                      trigger: dict[str, Any] | None = None) -> list[Observation]:
    """What the engine showed the gate for `proposal`: the events up to the event that triggered it
    (the first of its event ids, as the proposer orders them), then its evidence line."""
    by_id = {str(e.get("id")): e for e in events}
    ids = proposal.get("event_ids") or []
    woke = by_id.get(str(ids[0])) if ids else None
    woke = woke or trigger
    ts = float(woke["ts"]) if woke is not None else float(proposal.get("ts", 0.0))
    observations = engine_observations(events, ts)
    line = evidence_line(proposal, ts)
    return observations + ([line] if line is not None else [])


def right_candidates(result: Any) -> list[dict[str, Any]]:
    """The surfaced proposals answering the trigger that the export labels right: grounded,
    localized, and not an edit that was tried and failed."""
    from companion.moments.driver import scored_proposal
    from companion.moments.scoring import evidence_names, is_localized, names_any, proposal_text

    run = result.run
    if run.error or not run.moment.expect.failure:
        return []
    since = float(run.trigger["ts"]) if run.trigger else run.started_ts
    scored = scored_proposal(run) or {}
    names = evidence_names(run)
    right = []
    for proposal in sorted(run.proposals, key=lambda p: p.get("ts", 0)):
        if not proposal.get("surfaced") or not proposal.get("task") or proposal.get("ts", 0) < since - 0.001:
            continue
        if proposal.get("id") == scored.get("id") and result.score.fixed is False:
            continue
        if names_any(proposal_text(proposal), names) and is_localized(proposal, run):
            right.append(proposal)
    return right


def cases_from_results(results: Iterable[Any]) -> list[Case]:
    """A case per failure moment that was driven (routine moments and errors are not ranked)."""
    cases = []
    for result in results:
        run = result.run
        if run.error or not run.moment.expect.failure:
            continue
        case = Case(run.moment.id, run.moment.category, run.moment.repo)
        for proposal in right_candidates(result):
            case.right.append((gate_observations(run.events, proposal, run.trigger), str(proposal["task"])))
        cases.append(case)
    return cases


def export_observations(row: dict[str, Any]) -> list[Observation]:
    """An export row's observations with its proposal's evidence line, as the gate saw it (the
    export keeps the events alone; a row that has the line already keeps it once)."""
    from companion.gate.base import has_evidence

    observations = [dict(o) for o in row.get("obs") or []]
    proposal = row.get("proposal") or {}
    if has_evidence(observations):
        return observations
    line = evidence_line(proposal, float(proposal.get("ts", 0.0)))
    return observations + ([line] if line is not None else [])


def cases_from_export(rows: Iterable[dict[str, Any]]) -> list[Case]:
    """Cases from `companion eval moments --export` rows: one per failure moment (its rows are
    consecutive), right candidates the surfaced rows labelled accepted."""
    cases: list[Case] = []
    previous = None
    for row in rows:
        moment = row.get("moment") or {}
        if not moment.get("failure"):
            previous = None
            continue
        if previous != moment.get("id"):
            cases.append(Case(str(moment.get("id")), str(moment.get("category")), str(moment.get("repo"))))
            previous = moment.get("id")
        proposal = row.get("proposal") or {}
        if row.get("valid") and proposal.get("surfaced") and row.get("pred_task"):
            cases[-1].right.append((export_observations(row), str(row["pred_task"])))
    return cases


# -- the ranking -----------------------------------------------------------------------------------
def rank(gate: Any, cases: Sequence[Case], progress: bool = False) -> list[Ranked]:
    """Score every right candidate, the generic tasks and silence on its observations (one batch per case)."""
    from tqdm import tqdm

    ranked = []
    competitors: list[str | None] = [*GENERIC_TASKS, None]
    for case in tqdm(cases, desc="gate ranking", unit="moment", disable=not progress, leave=False):
        if not case.right:
            ranked.append(Ranked(case))
            continue
        pairs = [(obs, task) for obs, right in case.right for task in (right, *competitors)]
        scores = gate.score_batch(pairs)
        width = len(competitors) + 1
        best: Ranked | None = None
        for i, (_, right) in enumerate(case.right):
            part = scores[i * width:(i + 1) * width]
            candidate = Ranked(case, right, float(part[0]),
                               {SILENCE if t is None else t: float(s) for t, s in zip(competitors, part[1:])})
            margin = candidate.score - max(candidate.generic.values())
            if best is None or margin > best.score - max(best.generic.values()):  # type: ignore[operator]
                best = candidate
        ranked.append(best)  # type: ignore[arg-type]
    return ranked


def share(ranked: Sequence[Ranked]) -> float | None:
    return round(sum(r.above for r in ranked) / len(ranked), 3) if ranked else None


def figures(ranked: Sequence[Ranked]) -> dict[str, Any]:
    """The share overall, per category and per repository, and what beat the right help when it lost."""
    beaten: dict[str, int] = {}
    for r in ranked:
        if r.score is not None and not r.above and r.best_generic:
            beaten[r.best_generic] = beaten.get(r.best_generic, 0) + 1
    categories = sorted({r.case.category for r in ranked})
    repos = sorted({r.case.repo for r in ranked})
    return {KEY: share(ranked), "failure_moments": len(ranked),
            "without_right_candidate": sum(r.score is None for r in ranked),
            "ranked": share([r for r in ranked if r.score is not None]),  # among moments with right help to rank
            "by_category": {c: share([r for r in ranked if r.case.category == c]) for c in categories},
            "by_repo": {repo: share([r for r in ranked if r.case.repo == repo]) for repo in repos},
            "beaten_by": dict(sorted(beaten.items(), key=lambda kv: -kv[1])),
            "generic": [*GENERIC_TASKS, SILENCE], "moments": [r.to_dict() for r in ranked]}


def run_config(config: Any, sections: dict[str, dict[str, Any]]) -> Any:
    """The harness's config with the gate and agent sections every moment's daemon ran with."""
    merged = copy.deepcopy(config)
    for name in ("gate", "agent"):
        part = getattr(merged, name, None)
        for key, value in (sections.get(name) or {}).items():
            if part is not None and hasattr(part, key):
                setattr(part, key, value)
    return merged


def for_results(results: Sequence[Any], config: Any, sections: dict[str, dict[str, Any]] | None = None,
                say: Callable[[str], None] = lambda line: None, progress: bool = False,
                gate: Any = None) -> dict[str, Any]:
    """The ranking figures of a run, its gate loaded once here (not when no moment has right help to
    rank: then every failure moment is a miss). A gate that cannot be loaded gives None and why."""
    cases = cases_from_results(results)
    if gate is None and any(c.right for c in cases):
        from companion.gate.factory import load_gate

        try:
            gate = load_gate(run_config(config, sections or {}))
        except Exception as exc:  # an unavailable gate must not lose the run's other figures
            say(f"gate ranking skipped: the gate could not be loaded ({exc})")
            return {KEY: None, "error": f"the gate could not be loaded: {exc}", "failure_moments": len(cases)}
    try:
        return figures(rank(gate, cases, progress))
    except Exception as exc:  # a gate that fails to score (a served judge went away) is reported, not raised
        say(f"gate ranking failed: {exc}")
        return {KEY: None, "error": f"the gate could not score: {exc}", "failure_moments": len(cases)}
