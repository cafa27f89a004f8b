"""Reading reward rows strictly (bad rows reported with line numbers, then skipped) and the
ProactiveBench figures (reward_model_scoring.py's definitions), checked by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion.gate.reward_data import CORRECT_DETECTION, CORRECT_REJECTION, FALSE_ALARM, MISSED_NEED, category_of, read_rows
from companion.gate.metrics import score_judgements

OBS = [{"time": "Day 1, 10:00 AM", "event": "The user opens 'main.py' in Visual Studio Code."}]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def good(task: str | None, valid: bool) -> str:
    return json.dumps({"obs": OBS, "pred_task": task, "valid": valid})


def test_category_follows_task_and_validity() -> None:
    assert category_of(None, True) == CORRECT_REJECTION
    assert category_of(None, False) == MISSED_NEED
    assert category_of("x", True) == CORRECT_DETECTION
    assert category_of("x", False) == FALSE_ALARM


def test_bad_rows_are_reported_with_line_numbers_and_skipped(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "r.jsonl", [
        good("Fix the import", True),                                  # 1 ok
        "{not json",                                                   # 2
        json.dumps({"obs": OBS, "pred_task": "x"}),                    # 3 no valid
        "",                                                            # 4 blank: fine
        json.dumps({"obs": [], "pred_task": None, "valid": True}),     # 5 empty obs
        json.dumps({"obs": OBS, "pred_task": None, "valid": True, "category": "False-Alarm (FA)"}),  # 6 contradiction
        json.dumps([1, 2]),                                            # 7 not an object
        json.dumps({"obs": [{"time": "t"}], "pred_task": None, "valid": False}),  # 8 event missing
        good(None, False),                                             # 9 ok
    ])
    rows, problems = read_rows(path)
    assert [r.category for r in rows] == [CORRECT_DETECTION, MISSED_NEED]
    assert [line for line, _ in problems] == [2, 3, 5, 6, 7, 8]
    assert "not JSON" in problems[0][1] and "valid" in problems[1][1] and "contradicts" in problems[3][1]


def test_figures_follow_reward_model_scoring() -> None:
    valid = [True, True, False, False, True, False]
    predicted = [True, False, True, False, None, None]  # None: unreadable judgement
    cats = [CORRECT_DETECTION, CORRECT_DETECTION, FALSE_ALARM, FALSE_ALARM, CORRECT_REJECTION, MISSED_NEED]
    result = score_judgements(valid, predicted, cats)
    # TP=1 FN=2 (incl. the None on a valid row) FP=1 TN=2 (incl. the None on an invalid row)
    assert result["accuracy"] == pytest.approx(3 / 6)
    assert result["precision"] == pytest.approx(1 / 2)
    assert result["recall"] == pytest.approx(1 / 3)
    assert result["f1"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 2))
    # a None is a disagreement in its category even when "not accepted" would have been right
    assert result["per_category"] == {"MN": 0.0, "CR": 0.0, "CD": 0.5, "FA": 0.5}


def test_balanced_weighting_counts_each_category_equally() -> None:
    # 3 CD rows all right, 1 FA row wrong: raw accuracy 0.75, balanced 0.5
    valid = [True, True, True, False]
    predicted = [True, True, True, True]
    cats = [CORRECT_DETECTION] * 3 + [FALSE_ALARM]
    assert score_judgements(valid, predicted, cats)["accuracy"] == pytest.approx(0.75)
    assert score_judgements(valid, predicted, cats, balanced=True)["accuracy"] == pytest.approx(0.5)
    # accepting everything on a balanced split: F1 2/3 at accuracy 1/2, as the issue says
    assert score_judgements(valid, predicted, cats, balanced=True)["f1"] == pytest.approx(2 / 3)
