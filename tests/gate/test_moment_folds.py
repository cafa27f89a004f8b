"""Coding moments as training rows for the gate (training/reward/moments.py) and the folds that hold
one repository out each (training/reward/train.py `group_by="repo"`), on the recorded moments of
benchmarks/data/learning-stream.jsonl (toolz and python-tabulate) beside ProactiveBench's rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from companion.gate import base_set
from companion.moments.ranking import GENERIC_TASKS
from training.reward import moments
from training.reward.train import group_folds

STREAM = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "learning-stream.jsonl"


@pytest.fixture(scope="module")
def export():
    return moments.read_export([STREAM])


def test_export_rows_become_labelled_rows_with_the_gates_evidence_line(export) -> None:
    plain = moments.training_rows(export, augment=False)
    assert plain and {m.repo for m in plain} == {"toolz", "python-tabulate"}
    assert any(m.row.valid for m in plain) and any(not m.row.valid for m in plain)
    rule_tasks = {raw["pred_task"] for raw in export if (raw["proposal"] or {}).get("rule")}
    ruled = [m for m in plain if m.row.task in rule_tasks]
    assert ruled and all(m.row.obs[-1]["event"].startswith("Evidence: ") for m in ruled)
    keys = [(m.row.history_key, m.row.task) for m in plain]
    assert len(keys) == len(set(keys))  # the same proposal recorded twice counts once

    augmented = moments.training_rows(export, augment=True)
    silences = [m.row for m in augmented if m.row.task is None]
    assert silences and all(not r.valid for r in silences)  # every recorded moment here is a failure: help was needed
    generic = {m.row.task for m in augmented} & set(moments.TRAIN_GENERIC)
    assert generic == set(moments.TRAIN_GENERIC)
    added = {m.row.task for m in augmented} - {m.row.task for m in plain}
    assert not added & set(GENERIC_TASKS)  # the augmentation never adds the benchmark's probe (a model may say one)


def test_repo_folds_hold_out_one_repository_each_and_keep_the_trace_folds(export) -> None:
    base = base_set.load_rows()[::10]
    extra = moments.training_rows(export)
    rows = base + [m.row for m in extra]
    repos = moments.repo_of(base, extra)
    folds = group_folds(rows, 5, "repo", seed=3, repos=repos)
    assert len(folds) == 5 and np.all(np.sum(folds, axis=0) == 1)  # every row in exactly one fold
    for repo in ("python-tabulate", "toolz"):
        inside = np.array([r == repo for r in repos])
        holding = [f for f in folds if (f & inside).any()]
        assert len(holding) == 1 and np.array_equal(holding[0] & (np.array(repos) != ""), inside)
    plain = group_folds(base, 5, "trace", seed=3)  # ProactiveBench's rows: the folds they have without moments
    for with_moments, without in zip(folds, plain):
        assert np.array_equal(with_moments[:len(base)], without)
    more = group_folds(rows, 1, "repo", seed=3, repos=repos)  # fewer folds than repositories: one per repository
    assert len(more) == 2
    with pytest.raises(ValueError, match="repo"):
        group_folds(base, 5, "repo", seed=3)


def test_a_tiny_run_with_moments_holds_each_repository_out(tmp_path) -> None:
    from training.reward.train import RewardTrainConfig, main

    cfg = RewardTrainConfig(out_dir=str(tmp_path / "model"), embeddings=str(tmp_path / "emb.npz"), max_rows=120,
                            members=1, epochs=5, folds=2, hidden=8, memory=False, write=False, moments=str(STREAM),
                            group_by="repo")
    card = main(cfg)
    assert card["data"]["moment_rows"] > 0 and card["data"]["moment_repos"] == ["python-tabulate", "toolz"]
    assert card["cv"]["group_by"] == "repo" and card["cv"]["folds"] == 2  # one fold per repository
    assert 0.0 <= card["cv_proactivebench"]["accuracy"] <= 1.0
    assert len(card["oof"]) == card["data"]["rows"] and not any(p != p for p in card["oof"])  # every row scored once


def test_coding_heads_judge_evidence_pairs_and_leave_proactivebench_alone(tmp_path, export) -> None:
    """Coding heads trained on the recorded moments, written beside a copy of the shipped weights:
    a pair that ends with a candidate's evidence line is judged by them, every other pair exactly as
    without them; the held-out figures and the rebuild command land in the card; a retrain on
    ProactiveBench keeps them."""
    import json
    import shutil

    from companion.gate.head import CODING_HEADS, load_heads
    from companion.gate.reward import SHIPPED_DIR, RewardGate
    from training.reward.train import RewardTrainConfig, carry_coding_heads

    folder = tmp_path / "weights"
    shutil.copytree(SHIPPED_DIR, folder)
    for name in ("gate_heads.safetensors", "card.json"):  # start from weights without coding heads
        (folder / name).unlink()
    from companion.gate.head import read_tensors, save_heads

    plain = {k: v for k, v in read_tensors(SHIPPED_DIR).items() if k not in CODING_HEADS.values()}
    save_heads(folder, plain, {k: v for k, v in json.loads((SHIPPED_DIR / "card.json").read_text()).items()
                               if k != "coding_heads"})
    cfg = RewardTrainConfig(embeddings=str(tmp_path / "emb.npz"), members=1, epochs=30, hidden=8, write=False, memory=False)
    report = moments.evaluate_coding(cfg, export, progress=False)
    assert set(report["by_repo"]) == {"toolz", "python-tabulate"}
    for name in ("coding_heads", "proactivebench_heads"):
        assert 0.0 <= report[name]["gate_right_above_generic"] <= 1.0
    moments.write_coding(cfg, export, folder, [str(STREAM)], {"coding_heads": report["coding_heads"]})
    heads, card = load_heads(folder)
    assert set(CODING_HEADS.values()) <= set(heads)
    assert card["coding_heads"]["repos"] == ["python-tabulate", "toolz"]
    assert "training.reward.moments --coding" in card["coding_heads"]["rebuild"]

    with_coding, without = RewardGate(folder, memory=False), RewardGate(folder, memory=False)
    without.heads = {k: v for k, v in without.heads.items() if k not in CODING_HEADS.values()}
    history = [{"time": "Mon 10:00", "event": "The user ran pytest; it failed (exit 1)."}]
    evidence = history + [{"time": "Mon 10:00", "event": "Evidence: tests/test_a.py::test_x failed: assert 1 == 2"}]
    office = [(history, "Fix the failing test"), (history, None), (history[:0], "Open the file")]
    assert with_coding.score_batch(office) == without.score_batch(office)  # no evidence line: ProactiveBench's heads
    assert with_coding.head_for(evidence, "task") == "coding_task" and with_coding.head_for(history, "task") == "task"
    assert with_coding.score_batch([(evidence, "Fix it")]) != without.score_batch([(evidence, "Fix it")])

    retrained = {k: v for k, v in plain.items()}
    retrained_card: dict = {}
    carry_coding_heads(folder, retrained, retrained_card)  # a retrain keeps the shipped coding heads
    assert set(CODING_HEADS.values()) <= set(retrained) and retrained_card["coding_heads"]["repos"]
