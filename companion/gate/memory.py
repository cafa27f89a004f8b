"""The gate's judgement memory: answered situations the gate can recall before it generalises.

Why: a judgement already made about the same situation is better evidence than any model's
guess from sentence embeddings. The memory holds answered `(history, task or null)` rows — the
shipped ProactiveBench judgements and the user's own answered proposals — and, for a new
question, describes what was decided around it:

- the same history (the same events, in order), the one just before it (one event less) and the
  one just after it: was help needed there? (ProactiveBench's annotators say so per history;
  for a user, an accepted proposal means yes);
- the other tasks judged in the same history: how many were accepted or rejected, how similar
  the closest of each is to this task, how many judges chose them;
- the tasks judged a few events earlier or later in the same session, and how the most similar
  one was judged;
- the nearest other histories by meaning, and whether they needed help.

When none of the same, previous or next history is remembered, `context` returns None and the
gate's embedding heads decide alone; otherwise a small logistic "memory head" weighs these facts
together with the embedding heads' own score (companion/gate/reward.py; trained in
training/reward/memory_head.py). Its logit is shifted by the logit of the gate's threshold
(level 3 for tasks, the silence threshold for null), so that at level 3 it decides at its own
natural boundary and the other levels move it like the rest of the gate. A user's answers
therefore count from the first one, without retraining. `exclude` drops rows from the memory for one question, which training uses to ask
about a row as if it had never been answered.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Mapping, Sequence

import numpy as np

from companion.gate.reward_data import RewardRow

RECENT = 3  # events averaged into a history's "what the user is doing now" vector
NEIGHBOURS = 8  # nearest other histories read for the "did similar moments need help" vote
NEAR_EVENTS = 2  # a task judged at most this many events earlier/later in the session is "near"
SAME_TASK = 0.8  # cosine similarity above which a near task counts as the same proposal
HISTORY_DIM = 8
TASK_DIM = 14


def logit(probability: float) -> float:
    p = min(max(float(probability), 1e-4), 1.0 - 1e-4)
    return float(np.log(p / (1.0 - p)))


def head_input(facts: np.ndarray, content_probability: float) -> np.ndarray:
    """A memory head reads the recalled facts and the embedding heads' verdict (as a logit)."""
    return np.append(facts, np.float32(logit(content_probability))).astype(np.float32)


def history_key(events: Sequence[str]) -> str:
    return json.dumps(list(events), ensure_ascii=False)


def help_signal(row: RewardRow) -> bool | None:
    """Did this row's moment need some task? The annotators' word when known; otherwise an accepted
    task says yes and a judged null task says what it says; a rejected task says nothing."""
    if row.help_needed is not None:
        return row.help_needed
    if row.task is None:
        return not row.valid
    return True if row.valid else None


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


class JudgementMemory:
    def __init__(self, rows: Sequence[RewardRow], vectors: Mapping[str, np.ndarray]) -> None:
        self.rows = list(rows)
        n = len(self.rows)
        self.valid = np.array([r.valid for r in self.rows], bool)
        self.share = np.array([r.accept_share for r in self.rows], np.float32)
        self.has_task = np.array([r.task is not None for r in self.rows], bool)
        self.help = [help_signal(r) for r in self.rows]
        self.length = np.array([len(r.obs) for r in self.rows], int)
        self.task_vectors = np.zeros((n, next(iter(vectors.values())).shape[0] if vectors else 384), np.float32)
        self.by_history: dict[str, list[int]] = defaultdict(list)
        self.by_prefix: dict[str, list[str]] = defaultdict(list)  # history key -> keys one event longer
        self.by_trace: dict[str, list[int]] = defaultdict(list)
        history_vectors: dict[str, np.ndarray] = {}
        self.history_of: list[str] = []
        for i, row in enumerate(self.rows):
            events = [o["event"] for o in row.obs]
            key = history_key(events)
            self.history_of.append(key)
            if key not in self.by_history:
                self.by_prefix[history_key(events[:-1])].append(key)
                history_vectors[key] = _unit(np.mean([vectors[e] for e in events[-RECENT:]], axis=0))
            self.by_history[key].append(i)
            if row.task is not None:
                self.task_vectors[i] = vectors[row.task]
                self.by_trace[events[0]].append(i)
        self.history_keys = list(history_vectors)
        self.history_matrix = (np.stack([history_vectors[k] for k in self.history_keys])
                               if history_vectors else np.zeros((0, self.task_vectors.shape[1]), np.float32))
        # with nothing excluded (every call but cross-validation's) each history's vote is fixed:
        # computed once, it makes a recall a table look-up and one matrix-vector product
        self._help_table = {key: self._count_help(key, frozenset()) for key in self.by_history}
        self._history_help = np.array([self._help_table[k][1] for k in self.history_keys], np.float64)

    def __len__(self) -> int:
        return len(self.rows)

    def _help_of(self, key: str, exclude: frozenset[int]) -> tuple[float, float]:
        """(remembered, share of its rows saying help was needed; 0.5 when unknown)."""
        if not exclude:
            return self._help_table.get(key, (0.0, 0.5))
        return self._count_help(key, exclude)

    def _count_help(self, key: str, exclude: frozenset[int]) -> tuple[float, float]:
        votes = [self.help[j] for j in self.by_history.get(key, ()) if j not in exclude]
        known = [v for v in votes if v is not None]
        if not votes:
            return 0.0, 0.5
        return 1.0, float(np.mean(known)) if known else 0.5

    def _neighbours_help(self, key: str, vector: np.ndarray, exclude: frozenset[int]) -> tuple[float, float]:
        if not len(self.history_keys):
            return 0.5, 0.0
        sims = self.history_matrix @ vector
        if not exclude:  # every history is remembered: the nearest ones other than this one vote
            return self._nearest_vote(key, sims)
        weights, votes = [], []
        for index in np.argsort(-sims):
            other = self.history_keys[index]
            if other == key:
                continue
            seen, help_share = self._help_of(other, exclude)
            if not seen:
                continue
            weights.append(float(np.exp(10.0 * sims[index])))
            votes.append(help_share)
            if len(votes) == NEIGHBOURS:
                break
        if not votes:
            return 0.5, 0.0
        top = float(np.log(weights[0]) / 10.0)
        return float(np.dot(weights, votes) / np.sum(weights)), top

    def _nearest_vote(self, key: str, sims: np.ndarray) -> tuple[float, float]:
        """`_neighbours_help` with nothing excluded, without the loop: the NEIGHBOURS most similar
        other histories' help shares weighted by exp(10·similarity), and the top similarity."""
        count = min(NEIGHBOURS + 1, len(sims))
        nearest = np.argpartition(-sims, count - 1)[:count]
        nearest = nearest[np.argsort(-sims[nearest], kind="stable")]
        nearest = [i for i in nearest if self.history_keys[i] != key][:NEIGHBOURS]
        if not nearest:
            return 0.5, 0.0
        weights = np.exp(10.0 * sims[nearest].astype(np.float64))
        return float(weights @ self._history_help[nearest] / weights.sum()), float(sims[nearest[0]])

    def context(self, events: Sequence[str], event_vectors: np.ndarray, task: str | None,
                task_vector: np.ndarray | None, exclude: frozenset[int] = frozenset()) -> np.ndarray | None:
        """The memory's facts about this question, or None when no nearby history is remembered."""
        events = list(events)
        key = history_key(events)
        same = self._help_of(key, exclude)
        previous = self._help_of(history_key(events[:-1]), exclude) if len(events) > 1 else (0.0, 0.5)
        later = [self._help_of(k, exclude) for k in self.by_prefix.get(key, ())]
        later = [h for h in later if h[0]]
        following = (1.0, float(np.mean([h[1] for h in later]))) if later else (0.0, 0.5)
        if not (same[0] or previous[0] or following[0]):
            return None
        vector = _unit(np.mean(event_vectors[-RECENT:], axis=0))
        history = [*same, *previous, *following, *self._neighbours_help(key, vector, exclude)]
        if task is None or task_vector is None:
            return np.array(history, np.float32)
        return np.concatenate([np.array(history, np.float32),
                               self._task_facts(key, events, task_vector, exclude)])

    def _task_facts(self, key: str, events: list[str], task_vector: np.ndarray, exclude: frozenset[int]) -> np.ndarray:
        siblings = [j for j in self.by_history.get(key, ()) if j not in exclude]
        tasks = [j for j in siblings if self.has_task[j]]
        accepted = [j for j in tasks if self.valid[j]]
        rejected = [j for j in tasks if not self.valid[j]]
        nulls = [j for j in siblings if not self.has_task[j]]
        closest = (lambda js: float(np.max(self.task_vectors[js] @ task_vector)) if js else 0.0)
        facts = [len(tasks) / 6, len(accepted) / 3, len(rejected) / 3, 1.0 if nulls else 0.0,
                 float(self.valid[nulls[0]]) if nulls else 0.5, closest(accepted), closest(rejected),
                 float(self.share[tasks].max()) if tasks else 0.0, float(self.share[tasks].mean()) if tasks else 0.0,
                 float(self.share[nulls[0]]) if nulls else 0.5,
                 float(self.share[tasks].max() >= 1.0) if tasks else 0.0]
        near = [j for j in self.by_trace.get(events[0], ())
                if j not in exclude and self.history_of[j] != key and abs(self.length[j] - len(events)) <= NEAR_EVENTS]
        if near:
            sims = self.task_vectors[near] @ task_vector
            best = int(np.argmax(sims))
            near_accepted = [j for j, s in zip(near, sims) if self.valid[j]]
            facts += [float(sims[best]), (2.0 * self.valid[near[best]] - 1.0) if sims[best] > SAME_TASK else 0.0,
                      closest(near_accepted)]
        else:
            facts += [0.0, 0.0, 0.0]
        return np.array(facts, np.float32)
