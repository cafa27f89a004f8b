"""The experiment log of docs/reward-gate.md, reproducible: which inputs and which head layout
the gate should have, under cross-validation grouped by trace, by history, or not at all.

    python -m experiments.reward_ablations [--group-by trace history row] [--variants ...]

Every variant uses the same MLP ensemble trainer as the shipped heads (train.py) and the shipped
base-set embeddings, so a run costs CPU seconds per variant and fold, not an encoder pass.
"""

from __future__ import annotations

import argparse
import json
from typing import Callable

import numpy as np

from companion.gate import features
from training.reward.train import (Prepared, RewardTrainConfig, category_weights, cross_validate, embeddings_for,
                                   figures, load_rows, prepare)


def one_head(rows, vectors, make: Callable[[np.ndarray, np.ndarray | None, int], np.ndarray]) -> Prepared:
    """Every row through the task head, with features from `make(events, task or None, words)`."""
    x = np.stack([make(np.stack([vectors[o["event"]] for o in r.obs]), vectors[r.task] if r.task else None,
                       len(r.task.split()) if r.task else 0) for r in rows]).astype(np.float32)
    return Prepared(list(rows), np.zeros((0, 1), np.float32), x, np.zeros(0, int), np.arange(len(rows)),
                    category_weights(rows), np.array([r.valid for r in rows], np.float32))


def _task_only(events, task, words):
    null = task is None
    return np.concatenate([np.zeros(384, np.float32) if null else task, [float(null)]])


def _observations_only(events, task, words):
    return np.concatenate([features.silence_features(events), [float(task is None)]])


def _joint(events, task, words):
    null = task is None
    part = np.zeros(features.TASK_DIM, np.float32) if null else features.task_features(events, task, words)
    return np.concatenate([part, features.silence_features(events), [float(null)]])


VARIANTS = {
    "task-only, one head": lambda rows, v: one_head(rows, v, _task_only),
    "observations-only, one head": lambda rows, v: one_head(rows, v, _observations_only),
    "task+observations+pairing, one head": lambda rows, v: one_head(rows, v, _joint),
    "two heads (shipped)": prepare,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group-by", nargs="+", default=["trace", "history"], choices=["trace", "history", "row"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="NAME")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    cfg = RewardTrainConfig(write=False)
    rows = load_rows(cfg)
    vectors = embeddings_for(rows, cfg)
    results = {}
    for name in args.variants:
        prep = VARIANTS[name](rows, vectors)
        for group_by in args.group_by:
            cfg.group_by = group_by
            balanced = figures(rows, cross_validate(prep, cfg))["balanced"]
            results[f"{name} | {group_by}"] = {k: round(balanced[k], 3) for k in ("accuracy", "precision", "recall", "f1")}
            results[f"{name} | {group_by}"].update({k: round(v, 3) for k, v in balanced["per_category"].items()})
            print(f"{name:<40} {group_by:<8} {json.dumps(results[f'{name} | {group_by}'])}", flush=True)


if __name__ == "__main__":
    main()
