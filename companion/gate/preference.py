"""What this user thinks of a *kind* of help: their own answers to similar proposals, recent first.

Why: the judgement memory (memory.py) recalls a moment only when the same history, or one an
event before or after it, was judged. A user's next failing test is a new history, so on new
work the memory has nothing to say and the embedding heads decide alone — yet "this user rejects
TODO reminders" or "this user wants install commands" carries over from one moment to the next.
This recall reads only the user's own answers (never ProactiveBench's shipped ones): for a
question it finds the answered proposals that are like it (the task's meaning and what had just
happened, both by MiniLM cosine similarity), weighs each by how alike it is and by how recent the
answer is (a half-life counted in newer answers on alike help, and a quarter of the others, so a
user who changes their mind is followed, and help rejected a while ago stays rejected while the user
answers other things), and
blends the gate's probability with the weighted share of accepts, trusted as far as there is
evidence (the weights' sum against a prior). A few rejections of one kind of help therefore
silence it, a few accepts let it through, and nothing changes where the user has said nothing
alike. Help from the same quick-fix rule is alike whatever its words (SAME_RULE): "reject the
revert" is one kind of help, though every revert names another file.

Bounded: at most `MAX_ANSWERS` of the latest answers are read; a call is one small matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

MAX_ANSWERS = 500  # the latest answers read (older ones have decayed to nothing anyway)
MIN_SIMILARITY = 0.55  # below this an answered proposal is not "alike" at all
SHARPNESS = 4.0  # how fast an answer's weight falls as it gets less alike (similarity 0.8: 0.45)
# answers: an answer weighs half as much once this many newer alike ones are given. 3, not 5: a user
# who changes their mind about a kind of help was followed within 10 answers at 4 of 4 measured
# points instead of 2 of 4 (docs/personalisation.md), and a rejected kind still goes quiet at once
HALF_LIFE = 3.0
UNRELATED_AGE = 0.25  # how much an answer on other help ages the older ones (an alike one: 1)
PRIOR = 0.6  # evidence of "no opinion yet" (an identical latest answer weighs 1): one answer moves less than three
TASK_SHARE = 0.6  # the task's meaning vs what had just happened, in the similarity
SAME_RULE = 0.85  # the least similarity of two proposals of the same quick-fix rule (a weight of 0.55)


@dataclass(frozen=True)
class Answer:
    """One of the user's answers, as the recall needs it."""

    task_vector: np.ndarray
    event_vector: np.ndarray  # the last observation before the proposal
    accepted: bool
    rule: str | None = None  # the quick-fix rule that offered it (None: the model's own)


class PreferenceRecall:
    def __init__(self, answers: Sequence[Answer]) -> None:
        answers = list(answers)[-MAX_ANSWERS:]
        self.count = len(answers)
        dim = answers[0].task_vector.shape[0] if answers else 384
        self.tasks = np.stack([a.task_vector for a in answers]) if answers else np.zeros((0, dim), np.float32)
        self.events = np.stack([a.event_vector for a in answers]) if answers else np.zeros((0, dim), np.float32)
        self.accepted = np.array([1.0 if a.accepted else 0.0 for a in answers])
        self.rules = np.array([a.rule or "" for a in answers], dtype=object)

    def recall(self, task_vector: np.ndarray, event_vector: np.ndarray, rule: str | None = None) -> tuple[float, float]:
        """(share of alike answers that were accepts, how far to trust it in [0, 1)); (0.5, 0) when
        nothing alike was answered. `rule`: the quick-fix rule offering the help asked about."""
        if not self.count:
            return 0.5, 0.0
        similarity = TASK_SHARE * (self.tasks @ task_vector) + (1 - TASK_SHARE) * (self.events @ event_vector)
        if rule:
            similarity = np.where(self.rules == rule, np.maximum(similarity, SAME_RULE), similarity)
        alike = similarity >= MIN_SIMILARITY
        if not alike.any():
            return 0.5, 0.0
        likeness = np.where(alike, np.exp(SHARPNESS * (similarity - 1.0)), 0.0)
        # an answer's age: the alike answers given after it (weighed by how alike they are), and a
        # quarter of every other answer since. Rejections of typo fixes stay remembered through
        # twenty answers on other help, and a newer alike answer supersedes an older one.
        newer_alike = np.concatenate([np.cumsum(likeness[::-1])[::-1][1:], [0.0]])
        newer_any = np.arange(self.count)[::-1].astype(np.float64)
        weights = likeness * 0.5 ** ((newer_alike + UNRELATED_AGE * newer_any) / HALF_LIFE)
        mass = float(weights.sum())
        return float(weights @ self.accepted / mass), mass / (mass + PRIOR)

    def adjust(self, probability: float, task_vector: np.ndarray, event_vector: np.ndarray,
               rule: str | None = None) -> float:
        """The gate's probability blended with the user's own answers on alike proposals, as far as
        there are any: five recent rejections of the same kind outweigh a confident gate."""
        accepted, trust = self.recall(task_vector, event_vector, rule)
        return float((1.0 - trust) * probability + trust * accepted)
