"""Training the gate's heads: a few steps on a small slice change the weights and lower the loss;
a tiny full run writes weights + a card (config, CV metrics, thresholds) the gate can load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from companion.gate import base_set
from training.reward.train import (RewardTrainConfig, embeddings_for, group_folds, level_thresholds, main, prepare,
                                   train_member)

pytestmark = pytest.mark.slow  # imports torch


@pytest.fixture(scope="module")
def small_slice():
    rows = base_set.load_rows()[::10]  # every category (the file is sorted by category)
    return prepare(rows, embeddings_for(rows, RewardTrainConfig()))


def test_a_few_steps_change_the_weights_and_lower_the_loss(small_slice) -> None:
    cfg = RewardTrainConfig(hidden=16, dropout=0.0, epochs=25)
    x, index = small_slice.x_task, small_slice.task_index
    y, w = small_slice.labels[index], small_slice.weights[index]
    before, _ = train_member(x, y, w, cfg, seed=7, steps=0)
    after, losses = train_member(x, y, w, cfg, seed=7, steps=25)
    assert not np.allclose(before["w1"], after["w1"])
    assert not np.allclose(before["w2"], after["w2"])
    assert losses[-1] < 0.9 * losses[0]


def test_folds_never_split_a_trace(small_slice) -> None:
    rows = small_slice.rows
    folds = group_folds(rows, 3, "trace", seed=1)
    assert np.all(np.sum(folds, axis=0) == 1)  # every row in exactly one fold
    for test in folds:
        inside = {r.trace_key for r, t in zip(rows, test) if t}
        outside = {r.trace_key for r, t in zip(rows, test) if not t}
        assert not inside & outside


def test_level_thresholds_are_non_increasing() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(300)
    y = (rng.random(300) < p).astype(np.float32)
    table = level_thresholds(p, y, np.ones(300, np.float32))
    values = [table[level] for level in range(1, 6)]
    assert values == sorted(values, reverse=True) and values[0] > values[-1]


def test_tiny_run_writes_a_loadable_model_with_its_card(tmp_path: Path) -> None:
    from companion.gate.reward import RewardGate

    cfg = RewardTrainConfig(out_dir=str(tmp_path / "model"), max_rows=220, members=2, epochs=20, folds=2,
                            hidden=8, embeddings=str(tmp_path / "emb.npz"), simulated_splits=1)
    card = main(cfg)
    saved = json.loads((tmp_path / "model" / "card.json").read_text())
    assert saved["config"]["members"] == 2 and saved["data"]["rows"] == 220
    assert set(saved["cv"]["balanced"]["per_category"]) == {"MN", "CR", "CD", "FA"}
    assert 0.0 <= saved["cv"]["balanced"]["accuracy"] <= 1.0
    assert card["thresholds"] == saved["thresholds"]
    gate = RewardGate(tmp_path / "model")
    rows = base_set.load_rows()[::400]
    scores = gate.score_batch([(list(r.obs), r.task) for r in rows])
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert gate.heads["task"].w1.shape[0] == 2  # two ensemble members
    assert gate.memory_enabled and {"memory_silence", "memory_task"} <= set(gate.heads)
    whole = saved["cv_row_whole_gate"]
    assert len(whole["parts"]) == 2 and 0.0 <= whole["pooled"]["accuracy"] <= 1.0
    assert 0.0 < whole["memory_answered"] <= 1.0  # rows of one history sit on both sides of row folds
    assert len(saved["simulated_split"]["parts"]) == 1
