"""The default gate: frozen MiniLM sentence embeddings read by two small trained heads.

One head answers "is staying silent right here?" (null task, from the observations alone), the
other "would the user accept this task here?" (task + observations). Both are small MLP
ensembles (a couple of MB) shipped in `companion/gate/weights/` with a card that records how they
were trained, their cross-validation figures and the calibrated interruption-level thresholds.
A personal model retrained by `companion train reward` lives in `models_dir()/gate/current` and
wins over the shipped one.

Scoring needs numpy, tokenizers and safetensors only (no torch): loading is quick and a call
costs one MiniLM pass over the task plus any observation not seen in the last few thousand.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from companion import paths
from companion.gate import features
from companion.gate.base import DEFAULT_THRESHOLDS, Observation
from companion.gate.encoder import SentenceEncoder
from companion.gate.head import WEIGHTS_FILE, load_heads

SHIPPED_DIR = Path(__file__).resolve().parent / "weights"
MAX_OBSERVATIONS = 20  # the heads read the last events and a mean; older ones change little


def personal_dir() -> Path:
    """Where `companion train reward` keeps the user's models (current/ and previous/)."""
    return paths.models_dir() / "gate"


def active_weights_dir() -> Path:
    current = personal_dir() / "current"
    return current if (current / WEIGHTS_FILE).is_file() else SHIPPED_DIR


_shared_encoder: SentenceEncoder | None = None
_encoder_lock = threading.Lock()


def shared_encoder() -> SentenceEncoder:
    """One encoder per process (its sentence cache is shared by every gate instance)."""
    global _shared_encoder
    with _encoder_lock:
        if _shared_encoder is None:
            _shared_encoder = SentenceEncoder()
        return _shared_encoder


class RewardGate:
    name = "reward"

    def __init__(self, weights_dir: str | Path | None = None, encoder: SentenceEncoder | None = None) -> None:
        self.weights_dir = Path(weights_dir) if weights_dir else active_weights_dir()
        self.heads, self.card = load_heads(self.weights_dir)
        self.encoder = encoder or shared_encoder()
        table = self.card.get("thresholds") or {}
        self._thresholds = {level: float(table.get(str(level), DEFAULT_THRESHOLDS[level])) for level in range(1, 6)}
        self.silence_threshold = float(self.card.get("silence_threshold", 0.5))

    def _vectors(self, pairs: Sequence[tuple[Sequence[Observation], str | None]]) -> dict[str, np.ndarray]:
        texts: list[str] = []
        for observations, task in pairs:
            texts.extend(_event_text(o) for o in list(observations)[-MAX_OBSERVATIONS:])
            if task is not None:
                texts.append(task)
        unique = list(dict.fromkeys(texts))
        return dict(zip(unique, self.encoder.embed(unique))) if unique else {}

    def score_batch(self, pairs: Sequence[tuple[Sequence[Observation], str | None]]) -> list[float]:
        pairs = [(obs, _clean_task(task)) for obs, task in pairs]
        vectors = self._vectors(pairs)
        silence_rows, task_rows, silence_at, task_at = [], [], [], []
        for i, (observations, task) in enumerate(pairs):
            recent = [_event_text(o) for o in list(observations)[-MAX_OBSERVATIONS:]] or [""]
            events = np.stack([vectors[t] if t in vectors else self.encoder.embed([t])[0] for t in recent])
            if task is None:
                silence_rows.append(features.silence_features(events))
                silence_at.append(i)
            else:
                task_rows.append(features.task_features(events, vectors[task], len(task.split())))
                task_at.append(i)
        scores = [0.0] * len(pairs)
        for head, rows, at in (("silence", silence_rows, silence_at), ("task", task_rows, task_at)):
            if rows:
                for i, p in zip(at, self.heads[head].probability(np.stack(rows))):
                    scores[i] = float(p)
        return scores

    def score(self, observations: Sequence[Observation], task: str | None) -> float:
        return self.score_batch([(observations, task)])[0]

    def thresholds(self) -> dict[int, float]:
        return dict(self._thresholds)

    def describe(self) -> dict[str, Any]:
        cv = self.card.get("cv", {}).get("balanced", {})
        return {"gate": self.name, "weights": str(self.weights_dir),
                "cv_accuracy": cv.get("accuracy"), "cv_f1": cv.get("f1"), "thresholds": self.thresholds()}


def _event_text(observation: Observation | str) -> str:
    if isinstance(observation, str):
        return observation
    return str(observation.get("event", "")) or " "


def _clean_task(task: str | None) -> str | None:
    if task is None:
        return None
    task = str(task).strip()
    return task or None
