"""`companion eval reward --data FILE [--json]` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from companion.gate import base_set

pytestmark = pytest.mark.slow  # the subprocess loads MiniLM


def test_eval_reports_bad_rows_and_scores_the_rest(tmp_path: Path) -> None:
    rows = base_set.load_rows()[::41]
    lines = [json.dumps(r.to_json()) for r in rows]
    lines.insert(3, "{broken")
    lines.insert(7, json.dumps({"obs": [], "pred_task": None, "valid": True}))
    data = tmp_path / "r.jsonl"
    data.write_text("\n".join(lines) + "\n")

    result = run_cli("eval", "reward", "--data", str(data), "--json")
    assert result.returncode == 0, result.stderr
    assert f"{data}:4: skipped" in result.stderr and f"{data}:8: skipped" in result.stderr
    figures = json.loads(result.stdout)
    assert {"accuracy", "precision", "recall", "f1", "per_category"} <= set(figures)
    assert figures["n"] == len(rows)
    assert [s["line"] for s in figures["skipped"]] == [4, 8]
    assert set(figures["per_category"]) == {"MN", "CR", "CD", "FA"}

    human = run_cli("eval", "reward", "--data", str(data), "--balanced")
    assert human.returncode == 0
    assert "Missed-Need (MN)" in human.stdout and "F1" in human.stdout


def test_eval_of_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("eval", "reward", "--data", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2 and "no such file" in result.stderr


def test_the_memory_recalls_answered_situations_and_can_be_switched_off(tmp_path: Path) -> None:
    """Rows the shipped memory holds are recalled (the figures are of recall, not of judgement);
    --no-memory leaves the embedding heads alone (which fit their own training rows anyway)."""
    rows = base_set.load_rows()[::7]
    data = tmp_path / "known.jsonl"
    data.write_text("\n".join(json.dumps(r.to_json()) for r in rows) + "\n")
    recalled = json.loads(run_cli("eval", "reward", "--data", str(data), "--balanced", "--json").stdout)
    plain = json.loads(run_cli("eval", "reward", "--data", str(data), "--balanced", "--no-memory", "--json").stdout)
    assert recalled["memory"] is True and plain["memory"] is False
    # a null task is judged by whether the remembered moment needed help, which the annotators said
    assert recalled["per_category"]["MN"] == 1.0 and recalled["per_category"]["CR"] == 1.0
    assert recalled["accuracy"] > 0.9
