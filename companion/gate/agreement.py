"""Has the gate learnt this user? The agreement of its decisions with their answers, over time,
and the kinds of help it now holds back — what the dashboard's Stats screen draws.

Read from the proposals alone (the daemon's `proposals` operation gives them to the dashboard):

- the curve: for every answered proposal, in the order answered, did the gate's decision at the
  time (its stored score against the threshold) agree with the answer (accepted = welcome;
  rejected or ignored = not)? A rolling share over the last `window` answers;
- the kinds: proposals grouped by who offered them (the quick-fix rule, else the model and its
  trigger); for each, how often the user accepted it, and whether the gate held the LATEST one of
  that kind offered after the user's latest answer on it back (stored silent) or let it through —
  with everything it had read by then, which is what it has learnt.

No answers gives an empty curve and a status that says so, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

WINDOW = 10
ANSWERS = ("accepted", "rejected", "ignored")


@dataclass
class Kind:
    name: str
    answers: int = 0
    accepted: int = 0
    held_back: bool | None = None  # the gate's decision on the latest one offered since the last answer (None: none)


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


def agreement(proposals: Iterable[Any], threshold: float = 0.5, window: int = WINDOW) -> Agreement:
    proposals = sorted(proposals, key=lambda p: p.ts)
    answered = sorted((p for p in proposals if p.status in ANSWERS), key=lambda p: p.answered_ts or p.ts)
    kinds: dict[str, Kind] = {}
    for proposal in answered:
        kind = kinds.setdefault(kind_of(proposal), Kind(kind_of(proposal)))
        kind.answers += 1
        kind.accepted += proposal.status == "accepted"
    if not answered:
        return Agreement("no answers yet: the gate is the base gate until you accept or reject a proposal")
    last_answer = {kind_of(p): p.ts for p in answered}
    for proposal in proposals:  # oldest first: the last one made after the kind's latest answer wins
        name = kind_of(proposal)
        if name in kinds and proposal.ts > last_answer[name]:
            kinds[name].held_back = not proposal.surfaced
    agree = [((p.score if p.score is not None else 0.0) >= threshold) == (p.status == "accepted") for p in answered]
    points = [(n, sum(agree[max(0, n - window):n]) / min(n, window)) for n in range(1, len(agree) + 1)]
    accepted = sum(p.status == "accepted" for p in answered)
    status = (f"{len(answered)} answers ({accepted} accepted)" +
              ("; only accepts so far" if accepted == len(answered) else "; only rejections so far" if accepted == 0 else ""))
    return Agreement(status, points, round(sum(agree) / len(agree), 4), sorted(kinds.values(), key=lambda k: -k.answers))

