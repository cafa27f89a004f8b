"""Retraining and the learning harness are bounded in time (issue 16): a spent budget stops the
fit between epochs, keeps the current model, is said by the real commands, and leaves the
harness's JSON with every key; the final fit shows a progress bar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion.events import Event
from companion.gate.reward import personal_dir
from companion.proposals import Outcome, Proposal
from companion.store import Store
from tests.conftest import run_cli
from training.learning.replay import OUT_OF_TIME
from training.learning.stream import SHIPPED_STREAM
from training.reward import personal
from training.reward.budget import NO_LIMIT, BudgetExceeded, Deadline

TINY = 1e-9  # seconds: spent before the first check


@pytest.fixture(scope="module")
def small_prep():
    from companion.gate import base_set
    from training.reward.train import RewardTrainConfig, embeddings_for, prepare

    rows = base_set.load_rows()[::20]
    return prepare(rows, embeddings_for(rows, RewardTrainConfig()))


def fill(store: Store, answers: int) -> None:
    """Answered proposals in the daemon's shape, half accepted, half rejected."""
    for k in range(answers):
        events = [Event("shell", "shell.command", {"command": f"pytest tests/test_m{k}.py", "exit_code": 1,
                                                   "output": "AssertionError"}, "/tmp/ws", ts=1000.0 + 10 * k)]
        store.add_events(events)
        task = f"Explain the failing test_m{k}" if k % 2 == 0 else "Suggest a keyboard shortcut"
        proposal = Proposal(task=task, event_ids=[e.id for e in events], workspace="/tmp/ws", ts=1001.0 + 10 * k)
        store.save_proposal(proposal)
        store.record_outcome(Outcome(proposal.id, "accepted" if k % 2 == 0 else "rejected", ts=1002.0 + 10 * k))


def test_the_fit_stops_past_its_deadline_and_shows_a_progress_bar(small_prep, capsys: pytest.CaptureFixture) -> None:
    from training.reward.train import RewardTrainConfig, fit

    cfg = RewardTrainConfig(epochs=3, members=1, hidden=8)
    with pytest.raises(BudgetExceeded, match="time budget"):
        fit(small_prep, cfg, deadline=Deadline(TINY))
    heads = fit(small_prep, cfg, deadline=NO_LIMIT, progress=True)
    assert set(heads) == {"silence", "task"}
    assert "fitting the heads" in capsys.readouterr().err
    assert Deadline(0).left() and Deadline(None).left()  # 0 / None: no limit


def test_a_retrain_over_budget_keeps_the_current_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_MODELS_DIR", str(tmp_path / "models"))
    with Store() as store:
        fill(store, 24)
        with pytest.raises(BudgetExceeded):
            personal.retrain(store, budget_s=TINY)
    assert not (personal_dir() / "current").exists()
    assert not list(personal_dir().glob("new-*"))  # nor a half-trained staging folder (the sentence cache stays)
    result = run_cli("train", "reward", "--budget-s", str(TINY), timeout=300)  # the real command says so
    assert result.returncode == 2, result.stderr
    assert "time budget" in result.stderr and "current model is kept" in result.stderr
    assert not (personal_dir() / "current").exists()


def test_the_harness_runs_the_shipped_stream_by_default_and_marks_a_spent_budget() -> None:
    assert SHIPPED_STREAM.is_file()
    result = run_cli("eval", "learning", "--persona", "tests-and-conflicts", "--checkpoints", "0,10",
                     "--budget", str(TINY), "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["moments_export"] == str(SHIPPED_STREAM) and out["skipped"] == {}
    persona = out["personas"]["tests-and-conflicts"]
    assert [p["status"] for p in persona["curve"]] == [OUT_OF_TIME, OUT_OF_TIME]
    assert all(p["f1"] is None and "base_f1" in p for p in persona["curve"])
    assert persona["quiet_status"] == OUT_OF_TIME and persona["quiet_after_rejections"] is None
    assert persona["follows_status"] is not None and persona["follows_change_within"] is None
    assert out["goals"]["tests-and-conflicts"] == {"f1_plus_10_at_50": None, "quiet_within_5": None,
                                                   "follows_within_10": None}
