"""Personal retraining from a real store: outcome rows, too few answers, replacing only when not
worse, keeping the previous model and rolling back (API and the real `companion` command)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from companion.events import Event
from companion.gate.head import WEIGHTS_FILE
from companion.gate.reward import SHIPPED_DIR, RewardGate, active_weights_dir, personal_dir
from companion.proposals import Outcome, Proposal
from companion.store import Store
from tests.conftest import run_cli
from training.reward import personal
from training.reward.train import RewardTrainConfig, main

ERRORS = ["ImportError: cannot import name 'Client'", "KeyError: 'user_id'", "AssertionError in test_login",
          "TypeError: unsupported operand", "ModuleNotFoundError: No module named 'yaml'", "SyntaxError: invalid syntax"]


def fill_store(store: Store, answers: int, workspace: str = "/tmp/ws") -> None:
    """`answers` proposals with their events; relevant tasks are accepted, generic ones not."""
    for i in range(answers):
        error = ERRORS[i % len(ERRORS)]
        events = [Event(source="editor", kind="editor.saved", data={"path": f"app/mod{i}.py"}, workspace=workspace, ts=1000.0 + 10 * i),
                  Event(source="shell", kind="shell.command", data={"command": "pytest -x", "exit_code": 1, "output": error},
                        workspace=workspace, ts=1001.0 + 10 * i)]
        store.add_events(events)
        relevant = i % 2 == 0
        task = f"Explain the {error.split(':')[0]} and propose a fix" if relevant else "Suggest a keyboard shortcut for tabs"
        proposal = Proposal(task=task, event_ids=[e.id for e in events], workspace=workspace, ts=1002.0 + 10 * i)
        store.save_proposal(proposal)
        outcome = "accepted" if relevant else ("rejected" if i % 4 == 1 else "ignored")
        store.record_outcome(Outcome(proposal_id=proposal.id, outcome=outcome, ts=1003.0 + 10 * i))


def tiny(seed: int = 1) -> RewardTrainConfig:
    return RewardTrainConfig(members=1, epochs=30, hidden=8, seed=seed)


def digest(folder: Path) -> str:
    return hashlib.sha1((folder / WEIGHTS_FILE).read_bytes()).hexdigest()


def test_outcomes_become_reward_rows() -> None:
    with Store() as store:
        fill_store(store, 4)
        rows = personal.outcome_rows(store)
    assert len(rows) == 4
    assert [r.valid for r in rows] == [True, False, True, False]
    assert len(rows[0].obs) == 2 and "pytest -x" in rows[0].obs[1]["event"]
    assert rows[1].category == "False-Alarm (FA)"


def test_too_few_outcomes_says_how_many_more_are_needed() -> None:
    with Store() as store:
        fill_store(store, 6)
    result = run_cli("train", "reward")
    assert result.returncode == 3
    assert "needs 14 more answered proposals" in result.stderr
    result = run_cli("train", "reward", "--json")
    assert json.loads(result.stdout)["more_needed"] == 14


@pytest.mark.slow
def test_retrain_replaces_only_when_not_worse() -> None:
    with Store() as store:
        fill_store(store, 24)
        report = personal.retrain(store, cfg=tiny())
    assert report.rows == 24 and report.held_out == 8
    assert 0.0 <= report.old["accuracy"] <= 1.0 and 0.0 <= report.new["accuracy"] <= 1.0
    assert report.replaced == (report.new["accuracy"] >= report.old["accuracy"])
    current = personal_dir() / "current"
    if report.replaced:
        card = json.loads((current / "card.json").read_text())
        assert card["data"]["extra_rows"] == 16
        assert active_weights_dir() == current
        assert (personal_dir() / "previous" / personal.SHIPPED_MARKER).is_file()
    else:
        assert not current.exists() and active_weights_dir() == SHIPPED_DIR


@pytest.mark.slow
def test_rollback_restores_the_previous_model(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, seed in ((first, 1), (second, 2)):
        cfg = tiny(seed)
        cfg.out_dir, cfg.cv, cfg.max_rows = str(folder), False, 300
        main(cfg)
    assert digest(first) != digest(second)
    current = personal_dir() / "current"

    personal._install(first)
    personal._install(second)
    assert digest(current) == digest(second)
    assert digest(personal_dir() / "previous") == digest(first)

    personal.rollback()
    assert digest(current) == digest(first) and RewardGate().weights_dir == current
    result = run_cli("train", "reward", "--rollback")  # the real command swaps back
    assert result.returncode == 0, result.stderr
    assert digest(current) == digest(second)


@pytest.mark.slow
def test_rollback_to_the_shipped_model_and_nothing_to_roll_back(tmp_path: Path) -> None:
    result = run_cli("train", "reward", "--rollback")
    assert result.returncode == 2 and "no previous reward model" in result.stderr
    cfg = tiny()
    cfg.out_dir, cfg.cv, cfg.max_rows = str(tmp_path / "a"), False, 300
    main(cfg)
    personal._install(tmp_path / "a")
    assert active_weights_dir() == personal_dir() / "current"
    assert "shipped" in personal.rollback()
    assert active_weights_dir() == SHIPPED_DIR
    personal.rollback()  # and back again
    assert digest(active_weights_dir()) == digest(tmp_path / "a")
