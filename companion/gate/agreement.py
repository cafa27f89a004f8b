"""Has the gate learnt this user? The agreement of its decisions with their answers, over time,
and the kinds of help it now holds back — what the dashboard's Stats screen draws.

- The curve: for every answered proposal, in the order answered, did the gate's decision at the
  time (its stored score against the level's threshold) agree with the answer (accepted =
  welcome; rejected or ignored = not)? A rolling share over the last `window` answers.
- The kinds: answered proposals grouped by who offered them and why (the quick-fix rule, else the
  trigger); for each, the latest one is scored again by the gate NOW, with everything it has read
  since, and called "held back" when it would no longer be surfaced.

A user with no answers gets an empty curve and a status that says so, never an error; answers
whose proposal or events were deleted are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WINDOW = 10


@dataclass
class Kind:
    name: str
    answers: int = 0
    accepted: int = 0
    score_now: float | None = None
    held_back: bool | None = None


@dataclass
class Agreement:
    status: str
    points: list[tuple[int, float]] = field(default_factory=list)  # (answers so far, rolling agreement)
    overall: float | None = None
    kinds: list[Kind] = field(default_factory=list)


def kind_of(proposal: Any) -> str:
    if proposal.rule:
        return f"rule {proposal.rule}"
    trigger = (proposal.trigger or "").split(":")[0]
    return f"model on {trigger}" if trigger else "model"


def agreement(store: Any, workspace: str | None, gate: Any = None, level: int = 3, window: int = WINDOW) -> Agreement:
    """The user's curve from the store; `gate` (a RewardGate reading the same store) rescores each
    kind's latest proposal, so the table says what it has learnt to hold back (None: no rescoring)."""
    from companion.gate.user_rows import answered

    items = answered(store, workspace)
    if not items:
        return Agreement("no answers yet: the gate is the base gate until you accept or reject a proposal")
    threshold = gate.thresholds()[level] if gate is not None else 0.5
    agree = []
    for item in items:
        score = item.proposal.score
        welcome = item.outcome.outcome == "accepted"
        agree.append(((score if score is not None else 0.0) >= threshold) == welcome)
    points = [(n, sum(agree[max(0, n - window):n]) / min(n, window)) for n in range(1, len(agree) + 1)]
    kinds: dict[str, Kind] = {}
    latest: dict[str, Any] = {}
    for item in items:
        kind = kinds.setdefault(kind_of(item.proposal), Kind(kind_of(item.proposal)))
        kind.answers += 1
        kind.accepted += item.outcome.outcome == "accepted"
        latest[kind.name] = item
    if gate is not None:
        names = list(latest)
        scores = gate.score_batch([(latest[n].observations, latest[n].proposal.task) for n in names])
        for name, score in zip(names, scores):
            kinds[name].score_now = round(float(score), 4)
            kinds[name].held_back = score < threshold
    accepted = sum(item.outcome.outcome == "accepted" for item in items)
    status = (f"{len(items)} answers ({accepted} accepted)" +
              ("; only accepts so far" if accepted == len(items) else "; only rejections so far" if accepted == 0 else ""))
    return Agreement(status, points, round(sum(agree) / len(agree), 4),
                     sorted(kinds.values(), key=lambda k: -k.answers))
