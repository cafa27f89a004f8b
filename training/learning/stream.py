"""A recorded stream of candidate proposals, for replaying answers through the gate.

Running the moments benchmark costs minutes of CPU per moment (a real daemon, a real shell, the
agent model), so the learning harness does not run it again for every simulated user: it reads
the benchmark's `--export` (every proposal the engine made at each moment, with the observations
it was made on), once, and replays answers to those proposals. ProactiveBench's reward file is a
second stream: each judged (history, task) row is a candidate, and each of its three annotators'
votes is one user's answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from companion.gate.reward_data import RewardRow

EDIT_BURST = "routine_edits"
# The recorded stream shipped with a source checkout (docs/personalisation.md says how it was made);
# the default, so the moments personas run without anyone having to know it is there.
SHIPPED_STREAM = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "learning-stream.jsonl"


def default_moments_export(given: str | Path | None = None) -> Path | None:
    """The stream the moments personas answer: the one given, else the shipped one when this is a
    source checkout that has it, else None (those personas are skipped, and the output says so)."""
    if given is not None:
        return Path(given)
    return SHIPPED_STREAM if SHIPPED_STREAM.is_file() else None


@dataclass(frozen=True)
class Candidate:
    """One proposal the engine made, as a simulated user meets it."""

    moment: str  # the moment (one situation) it was made at: future moments are never answered
    obs: tuple[dict[str, str], ...]
    task: str
    kind: str  # what kind of moment: the moments benchmark's category, or a ProactiveBench session
    rule: str | None = None  # the quick-fix rule that produced it (None: the model's own)
    operation: str | None = None
    grounded: bool = False  # it names something in the moment's evidence (moments benchmark)
    failure: bool = False  # something was really wrong at that moment
    votes: tuple[bool, ...] = field(default=())  # ProactiveBench: each annotator's verdict
    evidence: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)  # the rule's "why"
    response: str = ""
    confidence: float | None = None  # the rule's confidence (the engine's surfacing score reads it)

    def gate_observations(self) -> list[dict[str, str]]:
        """What the gate judges it on, as the engine does (companion/engine/proposer.py): a rule's
        candidate carries its evidence as one more observation, and so do its training rows
        (companion/gate/user_rows.py)."""
        if not self.rule:
            return list(self.obs)
        from companion.quickfix.why import evidence_observation

        return [*self.obs, evidence_observation(self.evidence, self.rule, 0.0, self.response)]

    @property
    def help_kind(self) -> str:
        """The kind of help: the moment's kind and who offered it (a rule, or the model). The route
        that captured the failure (the moments benchmark's `regression_hook` / `regression_pty`)
        is no kind a user tells apart: a regression is a regression."""
        kind = self.kind.removesuffix("_hook").removesuffix("_pty") if self.kind.startswith("regression_") else self.kind
        return f"{kind}:{self.rule or 'model'}"

    @property
    def edit_burst(self) -> bool:
        return self.kind == EDIT_BURST


class StreamError(ValueError):
    """A stream file that cannot be read; the message says which line and why."""


def read_moments_export(path: str | Path) -> list[Candidate]:
    """The moments benchmark's `--export` JSONL (companion/moments/report.py `export_rows`).
    Proposals without a task (the engine chose silence) and unreadable lines are skipped; a file
    with no usable line is an error."""
    path = Path(path)
    if not path.is_file():
        raise StreamError(f"{path}: no such file (make one with `companion eval moments --repo R --export {path}`)")
    candidates: list[Candidate] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                candidate = _from_export(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # one broken line never loses the rest
            if candidate is not None:
                candidates.append(candidate)
    if not candidates:
        raise StreamError(f"{path}: no proposal with a task and observations in it")
    return candidates


def _from_export(row: dict[str, Any]) -> Candidate | None:
    task = row.get("pred_task")
    obs = tuple({"time": str(o.get("time", "")), "event": str(o["event"])} for o in row.get("obs") or [] if o.get("event"))
    if not isinstance(task, str) or not task.strip() or not obs:
        return None
    moment = row.get("moment") or {}
    proposal = row.get("proposal") or {}
    evidence = proposal.get("evidence") if isinstance(proposal.get("evidence"), dict) else {}
    return Candidate(str(moment.get("id", "")), obs, task.strip(), str(moment.get("category", "unknown")),
                     proposal.get("rule"), proposal.get("operation"), bool(row.get("grounded")),
                     bool(moment.get("failure")), evidence=evidence, response=str(proposal.get("response") or ""),
                     confidence=_number(proposal.get("confidence")))


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def from_reward_rows(rows: Iterable[RewardRow]) -> list[Candidate]:
    """ProactiveBench rows with a task and three annotators' votes; the moment is the history."""
    return [Candidate(r.history_key, r.obs, r.task, r.trace_key[:60], votes=r.votes)
            for r in rows if r.task is not None and r.votes and len(r.votes) == 3]


def moments_of(candidates: Sequence[Candidate]) -> list[str]:
    return list(dict.fromkeys(c.moment for c in candidates))
