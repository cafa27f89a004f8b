"""Retraining the gate's embedding heads on a simulated user's answers, the way `companion train
reward` does (training/reward/train.py's `prepare` and `fit`, the user's rows weighing
`extra_weight` base rows each), bounded in time.

Only the two embedding heads are retrained; the memory heads (logistic weights over the recalled
facts) and the calibrated thresholds are kept from the base weights, as a personal run keeps the
thresholds it replaces. The shipped run also re-fits the memory heads from a 5-fold CV of the
embedding heads: five more fits per point of the curve, which the harness cannot afford on two
cores, and which read the user's answers through the memory anyway.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

from companion.gate.head import MEMORY_HEADS, WEIGHTS_FILE, save_heads
from companion.gate.reward_data import RewardRow
from training.reward import train as trainer
from training.reward.budget import NO_LIMIT, Deadline


class HeadTrainer:
    def __init__(self, base_rows: Sequence[RewardRow], base_weights: Path, encoder, epochs: int = 150,
                 members: int = 3, seed: int = 1234) -> None:
        from companion.gate import base_set

        self.base_rows = list(base_rows)
        self.base_weights = Path(base_weights)
        self.encoder = encoder
        self.cfg = trainer.RewardTrainConfig(epochs=epochs, members=members, seed=seed, cv=False, memory=False,
                                             write=False)
        self.vectors = base_set.load_embeddings()
        self.spent_s = 0.0

    def _embed(self, rows: Sequence[RewardRow]) -> None:
        texts = [t for r in rows for t in [*(o["event"] for o in r.obs), r.task] if t is not None]
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            self.vectors.update(zip(missing, self.encoder.embed(missing)))

    def fit(self, user_rows: Sequence[RewardRow], out_dir: Path, extra_weight: float | None = None,
            deadline: Deadline = NO_LIMIT) -> Path:
        """Embedding heads on base + user rows, memory heads and thresholds of the base weights.
        Past `deadline` it raises BudgetExceeded (the harness marks the point skipped)."""
        import torch
        from safetensors.numpy import load_file

        started = time.monotonic()
        torch.set_num_threads(1)
        trainer.seed_everything(self.cfg.seed)
        rows = self.base_rows + list(user_rows)
        self._embed(rows)
        prep = trainer.prepare(rows, self.vectors)
        if user_rows:
            prep.weights[len(self.base_rows):] *= self.cfg.extra_weight if extra_weight is None else extra_weight
        try:
            heads = trainer.fit(prep, self.cfg, deadline=deadline)
        finally:
            self.spent_s += time.monotonic() - started
        tensors = load_file(str(self.base_weights / WEIGHTS_FILE))
        for head in MEMORY_HEADS:
            if f"{head}.w" in tensors:
                heads[head] = {"w": tensors[f"{head}.w"], "b": tensors[f"{head}.b"]}
        card = json.loads((self.base_weights / "card.json").read_text())
        card = {k: card[k] for k in ("model", "encoder", "features", "thresholds", "silence_threshold") if k in card}
        card["data"] = {"rows": len(rows), "extra_rows": len(user_rows)}
        card["retrained_by"] = "training.learning.retrain (embedding heads; memory heads and thresholds kept)"
        save_heads(out_dir, heads, card)
        return out_dir


def base_heads(rows: Sequence[RewardRow], out_dir: Path, encoder, shipped: Path, epochs: int = 150,
               deadline: Deadline = NO_LIMIT) -> Path:
    """Base weights trained without some rows (ProactiveBench sessions held out as a user's work);
    BudgetExceeded past `deadline`."""
    return HeadTrainer(rows, shipped, encoder, epochs=epochs).fit([], out_dir, deadline=deadline)

