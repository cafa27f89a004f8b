"""Reward-gate figures as ProactiveBench's `reward_model_scoring.py` computes them.

`valid` is the truth and "the gate accepts" (score at or above the threshold) the prediction:
agreement per category (Missed-Need, Correct-Rejection, Correct-Detection, False-Alarm), and
Accuracy, Precision, Recall, F1 from the confusion matrix. A prediction of None (a judge whose
reply could not be read) counts as "not accepted" in the confusion matrix and as a disagreement
in its category, as that script does.

`balanced=True` weights every category equally (each row weighs 1/count of its category), which
is what ProactiveBench's held-out split does with 30 judgements per category; cross-validation
figures on the unbalanced training file are reported that way.
"""

from __future__ import annotations

from typing import Any, Sequence

from companion.gate.reward_data import CATEGORIES, SHORT


def score_judgements(valid: Sequence[bool], predicted: Sequence[bool | None], categories: Sequence[str],
                     balanced: bool = False) -> dict[str, Any]:
    if not (len(valid) == len(predicted) == len(categories)):
        raise ValueError("valid, predicted and categories must have the same length")
    counts = {c: sum(1 for x in categories if x == c) for c in CATEGORIES}
    agree = {c: 0.0 for c in CATEGORIES}
    tp = fp = tn = fn = 0.0
    for truth, pred, cat in zip(valid, predicted, categories):
        weight = (1.0 / counts[cat]) if balanced and counts.get(cat) else 1.0
        if cat in agree and pred is not None and bool(pred) == bool(truth):
            agree[cat] += 1
        if pred:
            if truth:
                tp += weight
            else:
                fp += weight
        elif truth:
            fn += weight
        else:
            tn += weight
    total = tp + tn + fp + fn
    per_category = {SHORT[c]: (agree[c] / counts[c] if counts[c] else None) for c in CATEGORIES}
    return {
        "n": len(valid),
        "counts": {SHORT[c]: counts[c] for c in CATEGORIES},
        "accuracy": (tp + tn) / total if total else 0.0,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        "per_category": per_category,
        "balanced": balanced,
        "confusion": {"TP": tp, "FP": fp, "TN": tn, "FN": fn},
    }
