"""The in-context judge (pruned and not) against the trained reward gate, on the same test questions.

docs/svd-icl.md reports the `icl` judge on the seed-0 test splits of `training/svd_icl.py`. The
shipped reward gate cannot be scored on those questions as it is: it was trained on all of
ProactiveBench's reward_train.jsonl, test rows included. So this module retrains the gate's heads
(training/reward/train.py's own functions, same settings) on the rows that lie in neither the
validation nor the test split of either demonstration source, and scores them on each source's
test questions. A stricter variant also leaves out every row on the same observations (history)
as a held-out question: the same history appears with several tasks. (Leaving out whole recorded
sessions is not possible: each of the 16 sessions of the reward data has a held-out question.)
The shipped gate's own figures are printed too, marked as having seen the answers.

The `icl` judge's figures come from the SVD search's reports (`docs/svd-icl/*.json`, the same
splits), or are recomputed with `--rerun-icl` (loads the model; a few minutes on a CPU).

    python -m training.judge_comparison [--rerun-icl] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from companion.gate.reward_data import RewardRow, parse_row
from training.svd_icl import SvdConfig, auc, make_splits, search

REPORTS = Path(__file__).resolve().parents[1] / "docs" / "svd-icl"
# the two demonstration sources of docs/svd-icl.md with the split sizes used there
SOURCES = {"proactivebench": 8, "simulated-user": 16}
JUDGE_THRESHOLD = 0.5  # as `companion eval agent` judges with the gate


def row_key(row: RewardRow) -> tuple[str, str | None, bool]:
    return row.history_key, row.task, row.valid


def held_out(sources: dict[str, int] = SOURCES) -> dict[str, dict[str, list[RewardRow]]]:
    """source -> {"validation", "test"} rows of the seed-0 splits the SVD search used."""
    out = {}
    for source, per_category in sources.items():
        splits = make_splits(SvdConfig(demos=source, per_category=per_category, seed=0))
        out[source] = {"validation": [parse_row(r) for r in splits.validation],
                       "test": [parse_row(r) for r in splits.test]}
    return out


def training_rows(all_rows: Sequence[RewardRow], excluded: Sequence[RewardRow], by_history: bool) -> list[RewardRow]:
    """The gate's rows minus the held-out ones (and, `by_history`, minus every row on the same
    observations as a held-out question, whatever its task)."""
    keys = {row_key(r) for r in excluded}
    histories = {r.history_key for r in excluded} if by_history else set()
    return [r for r in all_rows if row_key(r) not in keys and r.history_key not in histories]


def judge_figures(probability: np.ndarray, rows: Sequence[RewardRow],
                  cut: np.ndarray | float = JUDGE_THRESHOLD) -> dict[str, float]:
    """Accuracy (accepted when the probability reaches `cut`, one per row or one for all), AUC, accept rate."""
    labels = torch.tensor([r.valid for r in rows])
    scores = torch.tensor(probability, dtype=torch.float64)
    decisions = scores >= torch.as_tensor(cut, dtype=torch.float64)
    return {"accuracy": float((decisions == labels).float().mean()), "auc": auc(scores, labels),
            "accept_rate": float(decisions.float().mean())}


def retrained_gate(train: Sequence[RewardRow], tests: dict[str, list[RewardRow]]) -> dict[str, dict[str, float]]:
    """Fit the gate's heads on `train` (the shipped gate's settings) and score each test set."""
    from training.reward.train import RewardTrainConfig, embeddings_for, fit, prepare, score_rows, seed_everything

    cfg = RewardTrainConfig(cv=False, write=False)
    torch.set_num_threads(max(1, cfg.threads))
    seed_everything(cfg.seed)
    everything = list(train) + [r for rows in tests.values() for r in rows]
    vectors = embeddings_for(everything, cfg)
    heads = fit(prepare(train, vectors), cfg)
    return {source: judge_figures(score_rows(heads, prepare(rows, vectors)), rows) for source, rows in tests.items()}


def whole_gate_retrained(all_rows: Sequence[RewardRow], excluded: Sequence[RewardRow],
                         tests: dict[str, list[RewardRow]], by_history: bool = False) -> dict[str, dict[str, float]]:
    """The whole gate (embedding heads + judgement memory and its heads) trained without the
    held-out rows, with them forgotten by the memory (training/reward/heldout.whole_gate_scores),
    judged at the shipped gate's own thresholds (level 3 for tasks, the silence threshold).
    `by_history`: the other rows on a held-out question's observations are dropped too."""
    from companion.gate.memory import logit
    from companion.gate.reward import RewardGate
    from training.reward import heldout
    from training.reward.train import RewardTrainConfig, embeddings_for, fit, prepare, score_rows, seed_everything

    keys = {row_key(r) for r in excluded}
    if by_history:
        all_rows = [r for r in all_rows if row_key(r) in keys] + training_rows(all_rows, excluded, by_history=True)
    cfg = RewardTrainConfig(cv=False, write=False)
    torch.set_num_threads(max(1, cfg.threads))
    seed_everything(cfg.seed)
    vectors = embeddings_for(all_rows, cfg)
    prep = prepare(all_rows, vectors)
    held = np.array([row_key(r) in keys for r in all_rows])
    gate = RewardGate(memory=False)  # only its thresholds
    threshold, silence = gate.thresholds()[3], gate.silence_threshold
    offsets = {"memory_silence": logit(silence), "memory_task": logit(threshold)}
    results, _ = heldout.whole_gate_scores(all_rows, vectors, prep.weights, lambda mask: fit(prep, cfg, mask),
                                           lambda heads, mask: score_rows(heads, prep, mask), [held], cfg.seed, offsets)
    scores, recalled = results[0]
    first = {}
    for i, row in enumerate(all_rows):
        first.setdefault(row_key(row), i)
    out = {}
    for source, rows in tests.items():
        present = [r for r in rows if row_key(r) in first]
        at = [first[row_key(r)] for r in present]
        cut = np.array([silence if r.task is None else threshold for r in present])
        out[source] = {**judge_figures(scores[at], present, cut), "questions": len(present),
                       "memory_answered": round(float(recalled[at].mean()), 4),
                       "thresholds": {"task": threshold, "silence": silence}}
    return out


def shipped_gate(tests: dict[str, list[RewardRow]]) -> dict[str, dict[str, float]]:
    from companion.gate.reward import RewardGate

    gate = RewardGate()  # judged at its own thresholds, as the whole gate above
    threshold, silence = gate.thresholds()[3], gate.silence_threshold
    return {source: judge_figures(np.array(gate.score_batch([(list(r.obs), r.task) for r in rows])), rows,
                                  np.array([silence if r.task is None else threshold for r in rows]))
            for source, rows in tests.items()}


def icl_figures(rerun: bool) -> dict[str, dict[str, dict[str, float]]]:
    """source -> {"unpruned", "pruned"} test figures of the icl judge; "pruned" is the plan the
    search chose (the unpruned judge again when it chose none)."""
    out = {}
    for source, per_category in SOURCES.items():
        report = json.loads((REPORTS / f"{source}.json").read_text())
        best = report["best"]
        if rerun:  # the unpruned judge and the saved plan's pruning, on the same splits
            pruned = best["layer"] is not None
            report = search(SvdConfig(demos=source, per_category=per_category, seed=0,
                                      layers=(best["layer"],) if pruned else (29,),
                                      modules=(best["module"],) if pruned else ("attention",),
                                      ratios=(best["ratio"],) if pruned else (), budget_s=0, save=False))
            best = report["table"][-1]  # the plan's row (the unpruned one when the plan is empty)
        base = report["baseline"]
        if "test_auc" not in base and (REPORTS / f"{source}-auc.json").is_file():  # a later run of the same splits
            base = {**base, **json.loads((REPORTS / f"{source}-auc.json").read_text())["baseline"]}
        chosen = best if best["layer"] is not None else base
        out[source] = {
            "unpruned": {"accuracy": base["test"], "auc": base.get("test_auc"), "accept_rate": base.get("test_accept_rate")},
            "pruned": {"accuracy": chosen["test"], "auc": chosen.get("test_auc"), "accept_rate": chosen.get("test_accept_rate"),
                       "plan": None if best["layer"] is None else f"layer {best['layer']} {best['module']} keep {best['ratio']}"},
        }
    return out


def compare(rerun_icl: bool = False) -> dict[str, Any]:
    from companion.gate import base_set

    splits = held_out()
    excluded = [r for parts in splits.values() for rows in parts.values() for r in rows]
    tests = {source: parts["test"] for source, parts in splits.items()}
    all_rows = base_set.load_rows()
    gate_rows = training_rows(all_rows, excluded, by_history=False)
    strict_rows = training_rows(all_rows, excluded, by_history=True)
    return {
        "test_questions": {source: len(rows) for source, rows in tests.items()},
        "gate_rows": {"all": len(all_rows), "without_held_out_rows": len(gate_rows),
                      "without_held_out_histories": len(strict_rows)},
        "icl": icl_figures(rerun_icl),
        "gate_retrained": retrained_gate(gate_rows, tests),
        "gate_retrained_strict": retrained_gate(strict_rows, tests),
        "whole_gate_retrained": whole_gate_retrained(all_rows, excluded, tests),
        "whole_gate_retrained_strict": whole_gate_retrained(all_rows, excluded, tests, by_history=True),
        "gate_shipped_saw_test": shipped_gate(tests),
    }


def format_table(result: dict[str, Any]) -> str:
    def cell(figures: dict[str, Any]) -> str:
        value = lambda k: "—" if figures.get(k) is None else f"{figures[k]:.3f}"  # noqa: E731
        return f"{value('accuracy')} / {value('auc')} / {value('accept_rate')}"

    rows = [("icl judge, unpruned (8 shots)", result["icl"], "unpruned"),
            ("icl judge, SVD plan of the search", result["icl"], "pruned"),
            (f"reward gate retrained without the held-out rows ({result['gate_rows']['without_held_out_rows']} rows)",
             result["gate_retrained"], None),
            (f"reward gate retrained without their histories ({result['gate_rows']['without_held_out_histories']} rows)",
             result["gate_retrained_strict"], None),
            ("whole reward gate (heads + judgement memory) retrained without the held-out rows, "
             "judged at its own thresholds", result["whole_gate_retrained"], None),
            ("the same without the held-out histories", result["whole_gate_retrained_strict"], None),
            (f"shipped reward gate (trained on all {result['gate_rows']['all']} rows, test included; its thresholds)",
             result["gate_shipped_saw_test"], None)]
    sources = list(result["test_questions"])
    lines = ["| judge | " + " | ".join(f"{s} ({result['test_questions'][s]} test q.): acc / AUC / accept rate" for s in sources) + " |",
             "|---" * (len(sources) + 1) + "|"]
    for label, table, key in rows:
        lines.append(f"| {label} | " + " | ".join(cell(table[s][key] if key else table[s]) for s in sources) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rerun-icl", action="store_true", help="recompute the icl judge's figures (loads the model)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = compare(args.rerun_icl)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return result


if __name__ == "__main__":
    main()
