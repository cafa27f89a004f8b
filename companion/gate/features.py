"""What the gate's small heads read: fixed-size vectors built from sentence embeddings.

Two questions, two heads, because they are different questions:
- a null task ("say nothing") is right when no help is needed — that depends on the
  observations alone (`silence_features`);
- a proposed task is accepted when it fits what the user is doing — the task, the latest
  observations and how they pair (`task_features`: element-wise products and cosine
  similarities of the task with each of the last few events).

Both read the last event, the mean of the last `RECENT` events and the mean of the whole
history (the experiment log in docs/reward-gate.md shows what each part is worth).
"""

from __future__ import annotations

import numpy as np

from companion.gate.encoder import DIM

RECENT = 3  # events averaged as "what the user is doing now"
SIMILARITIES = 5  # cosine similarity of the task with each of the last N events


def _history_summary(events: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return events[-1], events[-RECENT:].mean(0), events.mean(0)


def silence_features(events: np.ndarray) -> np.ndarray:
    """(n_events, 384) embeddings, oldest first -> the null head's input."""
    last, recent, whole = _history_summary(events)
    return np.concatenate([last, recent, whole, [np.log(len(events))]]).astype(np.float32)


def task_features(events: np.ndarray, task: np.ndarray, task_words: int) -> np.ndarray:
    """Embeddings of the history and of the task (+ its word count) -> the task head's input."""
    last, recent, _ = _history_summary(events)
    sims = events[-SIMILARITIES:] @ task
    padded = np.zeros(SIMILARITIES, np.float32)
    padded[SIMILARITIES - len(sims):] = sims
    scalars = [float(sims.max()), float((events @ task).max()), np.log(len(events)), task_words / 20.0]
    return np.concatenate([task, task * last, task * recent, last, padded, scalars]).astype(np.float32)


SILENCE_DIM = 3 * DIM + 1
TASK_DIM = 4 * DIM + SIMILARITIES + 4
