"""Judging the whole gate (embedding heads + judgement memory) the way it will be judged.

ProactiveBench drew its held-out reward split (dataset/annotation/convert_annotations.py in
thunlp/ProactiveAgent) row by row, not session by session: per category it shuffled the rows
and took 30, first among rows whose three annotators all agreed with the label, then among rows
where exactly two did; everything else became the training file. So a held-out judgement's
history usually also appears in the training file with its other candidate tasks. Two ways to
rehearse that on the training file:

- `simulated_splits`: the same drawing procedure, repeated with several seeds, on the rows we have
  (up to 30 per category; the file had its real test rows removed, so some categories run short);
- plain 5-fold cross-validation over rows (train.py's `group_folds(..., "row")`).

`whole_gate_scores` trains everything on the rest for each held-out part — embedding heads, their
out-of-fold scores for the memory head, the memory heads — and scores the part with it forgotten.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from companion.gate.reward_data import CATEGORIES, RewardRow
from companion.gate.memory import JudgementMemory
from training.reward import memory_head

PER_CATEGORY = 30
INNER_FOLDS = 3  # out-of-fold embedding-head scores for training the memory head


def simulated_split(rows: Sequence[RewardRow], seed: int, per_category: int = PER_CATEGORY) -> np.ndarray:
    """A held-out mask drawn like ProactiveBench's test split (see the module docstring)."""
    rng = random.Random(seed)
    test = np.zeros(len(rows), bool)
    for category in CATEGORIES:
        members = [i for i, r in enumerate(rows) if r.category == category]
        rng.shuffle(members)
        unanimous = [i for i in members if rows[i].unanimous]
        chosen = unanimous[:per_category]
        taken = set(chosen)
        chosen += [i for i in members if rows[i].agreeing == 2 and i not in taken][: per_category - len(chosen)]
        test[chosen] = True
    return test


def simulated_splits(rows: Sequence[RewardRow], seeds: Sequence[int]) -> list[np.ndarray]:
    return [simulated_split(rows, seed) for seed in seeds]


def inner_content_oof(fit: Callable[[np.ndarray], Any], score: Callable[[Any, np.ndarray], np.ndarray],
                      train: np.ndarray, seed: int, folds: int = INNER_FOLDS) -> np.ndarray:
    """Embedding-head scores of every row in `train`, each from heads that did not see it."""
    indices = np.flatnonzero(train)
    order = np.random.RandomState(seed).permutation(len(indices))
    out = np.full(len(train), np.nan)
    for f in range(folds):
        held = np.zeros(len(train), bool)
        held[indices[order[f::folds]]] = True
        heads = fit(train & ~held)
        out[held] = score(heads, held)[held]
    return out


def held_out_content(fit: Callable[[np.ndarray], Any], score: Callable[[Any, np.ndarray], np.ndarray],
                     test: np.ndarray, seed: int) -> np.ndarray:
    """The embedding heads' scores the memory head is trained and judged with for one held-out
    part: from heads trained on the rest for the rows in `test`, out-of-fold on the rest."""
    content = score(fit(~test), test)
    content[~test] = inner_content_oof(fit, score, ~test, seed)[~test]
    return content


def whole_gate_scores(rows: Sequence[RewardRow], vectors: Mapping[str, np.ndarray], weights: np.ndarray,
                      fit: Callable[[np.ndarray], Any], score: Callable[[Any, np.ndarray], np.ndarray],
                      tests: Sequence[np.ndarray], seed: int, offsets: Mapping[str, float],
                      progress: Callable[[str], None] = lambda _: None,
                      ) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """For each held-out mask: the whole gate's scores of those rows (NaN elsewhere), and the mask
    of rows the memory answered. Also returns the embedding heads' own held-out scores (the last
    mask's wins where masks overlap), which train.py reuses to fit the final memory heads.

    `fit(train_mask)` trains embedding heads; `score(heads, mask)` scores rows (train.py's fit and
    score_rows, bound to the prepared features); `offsets` are the memory heads' logit shifts
    (memory_head.recall_scores)."""
    memory = JudgementMemory(rows, vectors)
    content_held_out = np.full(len(rows), np.nan)
    results = []
    for k, test in enumerate(tests):
        progress(f"held-out part {k + 1}/{len(tests)}: embedding heads, then out-of-fold scores for the memory head")
        content = held_out_content(fit, score, test, seed + k)
        content_held_out[test] = content[test]
        memory_heads = memory_head.fit_memory_heads(memory, vectors, content, ~test, weights)
        scores, recalled = memory_head.recall_scores(memory_heads, memory, vectors, content, test, offsets)
        results.append((scores, recalled))
    return results, content_held_out
