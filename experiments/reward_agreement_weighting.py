"""Experiment E17–E20: does the memory head learn better when rows the annotators agreed on count more?

    python -m experiments.reward_agreement_weighting      # about 20 CPU-minutes the first time

ProactiveBench's labels are noisy (on rows with three annotators one disagrees with the other two
about a third of the time), and its held-out split draws unanimous rows first. So a memory head
trained on the sure rows, or on the annotators' share instead of the majority label, might judge
that split better. This script judges the whole gate exactly as `train.py` does (row-level 5-fold
CV and 5 simulated held-out splits, the same seeds and thresholds), with the memory head trained
in each of these ways, and prints the figures. The embedding heads' held-out scores, which do not
depend on the variant, are computed once and cached in .cache/. Result (docs/reward-gate.md,
experiment log): no variant beats the shipped one by more than a row per split, so it stays.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from companion import paths
from companion.gate.memory import JudgementMemory, logit
from training.reward import heldout, memory_head
from training.reward import train as trainer

CACHE = paths.work_cache_dir() / "agreement-weighting"

Variant = Callable[[trainer.Prepared], tuple[np.ndarray, np.ndarray]]  # -> (labels, weights) per row


def _unanimous(prep: trainer.Prepared) -> np.ndarray:
    return np.array([r.unanimous for r in prep.rows])


def _agreement(prep: trainer.Prepared) -> np.ndarray:
    return np.array([r.agreeing / len(r.votes) if r.votes else 1.0 for r in prep.rows])


def _valid(prep: trainer.Prepared) -> np.ndarray:
    return np.array([r.valid for r in prep.rows], np.float32)


VARIANTS: dict[str, Variant] = {
    "E13 shipped: majority label, categories weighted equally": lambda p: (_valid(p), p.weights),
    "E17 the annotators' share as a soft label (tasks)": lambda p: (
        np.array([r.accept_share if r.task is not None else r.valid for r in p.rows], np.float32), p.weights),
    "E18 weight x share of annotators agreeing": lambda p: (_valid(p), p.weights * _agreement(p)),
    "E19 weight x that share squared": lambda p: (_valid(p), p.weights * _agreement(p) ** 2),
    "E20 unanimous rows weigh double": lambda p: (_valid(p), p.weights * np.where(_unanimous(p), 2.0, 1.0)),
}


def held_out_content(prep: trainer.Prepared, cfg: trainer.RewardTrainConfig, name: str,
                     tests: list[np.ndarray]) -> list[np.ndarray]:
    """Per held-out part: the embedding heads' scores, held-out on the part and out-of-fold on
    the rest (what whole_gate_scores feeds the memory head), cached by part name."""
    path = CACHE / f"{name}.npz"
    if path.is_file():
        with np.load(path) as data:
            return [data[f"part{k}"] for k in range(len(tests))]

    def fit_on(mask: np.ndarray):  # noqa: ANN202 - trained heads
        return trainer.fit(prep, cfg, mask)

    def score_on(heads, mask: np.ndarray) -> np.ndarray:  # noqa: ANN001
        return trainer.score_rows(heads, prep, mask)

    parts = []
    for k, test in enumerate(tests):
        parts.append(heldout.held_out_content(fit_on, score_on, test, cfg.seed + k))
        print(f"{name}: part {k + 1}/{len(tests)} embedded and scored", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{f"part{k}": c for k, c in enumerate(parts)})
    return parts


def judge(prep: trainer.Prepared, memory: JudgementMemory, vectors: dict[str, np.ndarray], variant: Variant,
          tests: list[np.ndarray], contents: list[np.ndarray], thresholds: tuple[float, float]) -> dict:
    """The whole gate on each part with the memory head trained as `variant` says."""
    labels, weights = variant(prep)
    threshold, silence = thresholds
    offsets = {"memory_silence": logit(silence), "memory_task": logit(threshold)}
    results = []
    for test, content in zip(tests, contents):
        data = memory_head.examples(memory, vectors, content, ~test, weights, labels)
        heads = {head: memory_head.fit_logistic(*part) for head, part in data.items()}
        results.append(memory_head.recall_scores(heads, memory, vectors, content, test, offsets))
    judged = trainer.judged_held_out(prep.rows, results, tests, threshold, silence)
    return {"mean": judged["mean"], "per_part_accuracy": [round(p["accuracy"], 3) for p in judged["parts"]],
            "per_category": {c: round(v, 3) for c, v in judged["pooled"]["per_category"].items() if v is not None},
            "unanimous_accuracy": round(judged["pooled_unanimous"]["accuracy"], 4)}


def main() -> None:
    import torch

    cfg = trainer.RewardTrainConfig(write=False)
    torch.set_num_threads(max(1, cfg.threads))
    trainer.seed_everything(cfg.seed)
    rows = trainer.load_rows(cfg)
    vectors = trainer.embeddings_for(rows, cfg)
    prep = trainer.prepare(rows, vectors)
    memory = JudgementMemory(rows, vectors)
    card = json.loads((Path(cfg.out_dir) / "card.json").read_text())
    thresholds = (float(card["thresholds"]["3"]), float(card["silence_threshold"]))
    settings = {"row CV": trainer.group_folds(rows, cfg.folds, "row", cfg.seed),
                "simulated splits": heldout.simulated_splits(rows, range(cfg.simulated_splits))}
    contents = {name: held_out_content(prep, cfg, name.replace(" ", "-"), tests) for name, tests in settings.items()}
    for variant_name, variant in VARIANTS.items():
        figures = {name: judge(prep, memory, vectors, variant, tests, contents[name], thresholds)
                   for name, tests in settings.items()}
        print(variant_name, json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
