"""The learning harness end to end on a small recorded moments stream: real store, real gate,
real (short) retraining of the heads; bad streams and one-sided users."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from companion.gate.reward import shared_encoder
from training.learning.personas import PERSONAS, Persona
from training.learning.replay import LearningConfig, heads_status, learning_curve
from training.learning.stream import StreamError, read_moments_export

ROOT = Path(__file__).resolve().parents[2]


def test_the_export_is_read_and_bad_lines_are_skipped(moments_export: Path, tmp_path: Path) -> None:
    stream = read_moments_export(moments_export)
    assert len(stream) == 48 and {c.kind for c in stream} == {"regression_hook", "missing_module", "routine_edits", "typo_command"}
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"pred_task": null, "obs": []}\nnot json\n')
    with pytest.raises(StreamError, match="no proposal"):
        read_moments_export(empty)
    with pytest.raises(StreamError, match="no such file"):
        read_moments_export(tmp_path / "missing.jsonl")


def test_a_persona_curve_with_memory_and_retrained_heads(moments_export: Path) -> None:
    cfg = LearningConfig(checkpoints=(0, 10, 25), epochs=4, members=1, budget_s=300)
    persona = PERSONAS["installs-and-commands"]
    result = learning_curve(persona, read_moments_export(moments_export), cfg, shared_encoder())
    curve = result["curve"]
    assert [p["answers"] for p in curve] == [0, 10, 25]
    assert curve[0]["heads_status"] == "base gate: no answers yet" and curve[0]["f1"] == curve[0]["memory"]["f1"]
    assert "heads" in curve[-1] and "heads_status" not in curve[-1]  # retrained on both kinds of answer
    for point in curve:
        assert {"precision", "recall", "f1", "base_f1", "memory", "both"} <= set(point)
    # the memory alone learns this user's taste from their answers
    assert curve[-1]["memory"]["f1"] > curve[0]["base_f1"]
    assert result["quiet_kind"] is not None and result["quiet_after_rejections"] in (None, *range(11))
    assert result["changed_kind"] == "typo_command:command_not_found"
    assert result["follows_change_within"] is not None and result["follows_change_within"] <= 10
    assert result["answers_given"]["accepted"] > 0 and result["answers_given"]["rejected"] > 0


def test_a_user_who_only_rejects_gets_the_base_heads_with_a_status(moments_export: Path) -> None:
    grumpy = Persona("grumpy", "rejects everything", lambda c: "rejected")
    cfg = LearningConfig(checkpoints=(0, 10), epochs=2, members=1)
    result = learning_curve(grumpy, read_moments_export(moments_export), cfg, shared_encoder())
    assert result["curve"][1]["heads_status"].startswith("base heads: only rejections")
    assert result["follows_change_within"] is None and result["changed_kind"] is None
    assert heads_status([]) == "base gate: no answers yet"


def test_the_command_prints_json_and_explains_a_bad_stream(moments_export: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "companion", "eval", "learning", "--persona", "tests-and-conflicts",
               "--moments-export", str(moments_export), "--checkpoints", "0,10", "--no-retrain", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    persona = result["personas"]["tests-and-conflicts"]
    assert [p["answers"] for p in persona["curve"]] == [0, 10]
    assert {"quiet_after_rejections", "follows_change_within"} <= set(persona)
    assert "learning curves" in done.stderr  # the progress bar
    bad = tmp_path / "bad.jsonl"
    bad.write_text("garbage\n")
    done = subprocess.run([*command[:8], str(bad), "--json"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2 and "no proposal" in done.stderr and not done.stdout
