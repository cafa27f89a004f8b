"""Training and judging the gate's memory heads (see companion/gate/memory.py for what they read).

A memory head is a logistic regression over the facts the judgement memory recalls about a
question plus the embedding heads' score for it. It learns from the training rows asked as if
each had not been answered yet, in two ways, so that it meets both situations it will see:

- leave-one-out: the row itself is dropped from the memory, its siblings (other tasks judged in
  the same history) stay — as when the user is asked about a new task in a known situation, or
  ProactiveBench's held-out judgements whose histories also appear in the training file;
- leave-history-out: the row's whole history is dropped and only the moments one event before or
  after it remain — as when the user moves on by one event after answering.

The embedding heads' score fed to it must be out-of-fold (`content` below): scores of rows the
embedding heads were trained on are overconfident and the memory head would learn to trust them.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from companion.gate.reward_data import RewardRow
from companion.gate.memory import JudgementMemory, head_input

L2 = 1e-3  # ridge penalty of the logistic fit; the inputs are a couple of dozen bounded facts


def ask(memory: JudgementMemory, vectors: Mapping[str, np.ndarray], row: RewardRow,
        exclude: frozenset[int]) -> np.ndarray | None:
    """The memory's facts about `row`'s question with `exclude` forgotten (None: nothing nearby)."""
    events = [o["event"] for o in row.obs]
    event_vectors = np.stack([vectors[e] for e in events])
    task_vector = vectors[row.task] if row.task is not None else None
    return memory.context(events, event_vectors, row.task, task_vector, exclude)


def examples(memory: JudgementMemory, vectors: Mapping[str, np.ndarray], content: np.ndarray,
             train: np.ndarray, weights: np.ndarray, labels: np.ndarray | None = None,
             ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per memory head: (inputs, labels, weights) from the rows in `train` (a boolean mask over
    memory.rows); rows outside `train` are forgotten throughout, as held-out rows must be.
    `labels` defaults to each row's `valid` (experiments/reward_agreement_weighting.py tries others)."""
    if labels is None:
        labels = np.array([row.valid for row in memory.rows], np.float32)
    held_out = frozenset(np.flatnonzero(~train).tolist())
    out: dict[str, tuple[list, list, list]] = {"memory_silence": ([], [], []), "memory_task": ([], [], [])}
    for i in np.flatnonzero(train):
        row = memory.rows[i]
        head = "memory_silence" if row.task is None else "memory_task"
        history = frozenset(memory.by_history[memory.history_of[i]])
        for forgotten in (held_out | {int(i)}, held_out | history):
            facts = ask(memory, vectors, row, forgotten)
            if facts is not None:
                out[head][0].append(head_input(facts, content[i]))
                out[head][1].append(float(labels[i]))
                out[head][2].append(float(weights[i]))
    return {head: (np.stack(x), np.array(y, np.float32), np.array(w, np.float32))
            for head, (x, y, w) in out.items() if x}


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = L2) -> dict[str, np.ndarray]:
    """Weighted logistic regression by L-BFGS (deterministic: no sampling, zero start)."""
    import torch

    xt, yt, wt = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(w / w.mean())
    linear = torch.nn.Linear(x.shape[1], 1)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    optimiser = torch.optim.LBFGS(linear.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        logits = linear(xt).squeeze(-1)
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, yt, reduction="none") * wt).mean()
        loss = loss + l2 * (linear.weight ** 2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return {"w": linear.weight.detach().numpy()[0].astype(np.float32).copy(),
            "b": linear.bias.detach().numpy().astype(np.float32).copy()}


def fit_memory_heads(memory: JudgementMemory, vectors: Mapping[str, np.ndarray], content: np.ndarray,
                     train: np.ndarray, weights: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    return {head: fit_logistic(*data) for head, data in examples(memory, vectors, content, train, weights).items()}


def recall_scores(heads: dict[str, dict[str, np.ndarray]], memory: JudgementMemory, vectors: Mapping[str, np.ndarray],
                  content: np.ndarray, test: np.ndarray, offsets: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Scores of the rows in `test` with every test row forgotten: the memory head's where the
    memory recalls something nearby (shifted by `offsets[head]`, as the gate does), the embedding
    heads' (`content`) elsewhere. Also returns the mask of rows the memory answered."""
    from companion.gate.head import LogisticHead

    forgotten = frozenset(np.flatnonzero(test).tolist())
    scores = np.full(len(memory.rows), np.nan)
    recalled = np.zeros(len(memory.rows), bool)
    for i in np.flatnonzero(test):
        row = memory.rows[i]
        name = "memory_silence" if row.task is None else "memory_task"
        head = heads.get(name)
        facts = ask(memory, vectors, row, forgotten) if head is not None else None
        if facts is None:
            scores[i] = content[i]
        else:
            probability = LogisticHead(head["w"], head["b"]).probability(head_input(facts, content[i]), offsets[name])
            scores[i] = float(probability[0])
            recalled[i] = True
    return scores, recalled
