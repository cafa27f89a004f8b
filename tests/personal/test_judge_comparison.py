"""The reward gate compared with the in-context judge is retrained without the judge's held-out questions."""

from __future__ import annotations

import pytest

from companion.gate.reward_data import RewardRow
from companion.gate.icl_gate import proactivebench_dir
from training.judge_comparison import held_out, judge_figures, row_key, training_rows


def row(events: list[str], task: str | None, valid: bool) -> RewardRow:
    return RewardRow(tuple({"time": str(i), "event": e} for i, e in enumerate(events)), task, valid)


def test_held_out_rows_and_optionally_their_histories_are_left_out() -> None:
    question = row(["a", "b"], "Fix the tests", True)
    same_history = row(["a", "b"], "Write docs", False)
    duplicate = row(["a", "b"], "Fix the tests", True)
    other = row(["a", "c"], None, True)
    rows = [question, same_history, duplicate, other]
    assert training_rows(rows, [question], by_history=False) == [same_history, other]
    assert training_rows(rows, [question], by_history=True) == [other]


def test_figures_judge_at_one_half() -> None:
    import numpy as np

    rows = [row(["a"], "t", True), row(["b"], "t", False), row(["c"], None, True), row(["d"], None, False)]
    figures = judge_figures(np.array([0.9, 0.2, 0.4, 0.6]), rows)
    assert figures["accuracy"] == 0.5 and figures["accept_rate"] == 0.5 and figures["auc"] == 0.75


@pytest.mark.skipif(proactivebench_dir() is None, reason="ProactiveBench's reward data is not on this machine")
def test_the_retrained_gate_never_sees_a_test_question() -> None:
    from companion.gate import base_set

    splits = held_out()
    assert {source: len(parts["test"]) for source, parts in splits.items()} == {"proactivebench": 32, "simulated-user": 32}
    excluded = [r for parts in splits.values() for rows in parts.values() for r in rows]
    kept = training_rows(base_set.load_rows(), excluded, by_history=False)
    tests = {row_key(r) for parts in splits.values() for r in parts["test"]}
    assert kept and not tests & {row_key(r) for r in kept}
