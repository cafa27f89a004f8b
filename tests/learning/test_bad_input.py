"""Bad input to learning from the user (issue 16): a one-sided user gets the base heads with a
status, a store whose answers lost their proposal or events is read without them, a stream too
small to split keeps the JSON shape, and figures the base gate made trivially are not passes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from companion.events import Event
from companion.gate.reward import personal_dir, shared_encoder
from companion.proposals import Outcome, Proposal
from companion.store import Store
from tests.learning.conftest import export_rows
from training.learning.personas import Persona
from training.learning.replay import BASE_QUIET, NO_UNWELCOME, TOO_SMALL, LearningConfig, heads_status, learning_curve
from training.learning.run import goals
from training.learning.stream import read_moments_export
from training.reward import personal

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = "/work/demo"
FIGURE_KEYS = {"quiet_after_rejections", "quiet_kind", "quiet_status",
               "follows_change_within", "changed_kind", "follows_status"}


def record(store: Store, sentences: list[str], task: str, outcome: str, ts: float) -> Proposal:
    """One answered proposal as the daemon records it: its events, the proposal, the outcome."""
    events = [Event("companion", "companion.replayed", {"sentence": s}, WORKSPACE, ts=ts + i)
              for i, s in enumerate(sentences)]
    store.add_events(events)
    proposal = Proposal(task=task, event_ids=[e.id for e in events], workspace=WORKSPACE, ts=ts + 10, surfaced=True)
    store.save_proposal(proposal)
    store.record_outcome(Outcome(proposal.id, outcome, ts=ts + 20))
    return proposal


def test_a_user_who_only_accepts_gets_the_base_heads_with_a_status(moments_export: Path) -> None:
    eager = Persona("eager", "accepts everything", lambda c: "accepted")
    cfg = LearningConfig(checkpoints=(0, 10), epochs=2, members=1, change_after=5)
    result = learning_curve(eager, read_moments_export(moments_export), cfg, shared_encoder())
    start, after = result["curve"]
    assert start["heads_status"] == "base gate: no answers yet"
    assert after["heads_status"].startswith("base heads: only accepts")
    assert after["heads"]["f1"] == after["base_f1"]  # the base heads, not a model trained on one class
    assert result["answers_given"] == {"accepted": 10, "rejected": 0, "ignored": 0}
    # nothing rejected: nothing to silence, and that is said rather than scored
    assert result["quiet_after_rejections"] is None and result["quiet_status"] == NO_UNWELCOME
    assert goals({"personas": {"eager": result}})["eager"]["quiet_within_5"] is None
    assert heads_status([(None, "accepted")] * 3).startswith("base heads: only accepts")  # type: ignore[list-item]


def test_retraining_on_only_accepts_says_what_is_missing_and_keeps_the_model(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_MODELS_DIR", str(tmp_path / "models"))
    store = Store(tmp_path / "store.db")
    for k in range(25):
        record(store, [f"The user ran `pytest -q tests/test_m{k}.py`; it failed (exit 1)."], f"Fix test {k}",
               "accepted", 1000.0 + 100 * k)
    with pytest.raises(personal.NotEnoughOutcomes, match="needs 5 more rejected or ignored"):
        personal.retrain(store)
    store.close()
    assert not (personal_dir() / "current").exists()


def test_outcome_rows_survive_deleted_proposals_and_events(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    pruned = record(store, ["The user saved `a.py`.", "The user ran `make`; it failed (exit 2)."], "Fix the build",
                    "ignored", 1000.0)
    kept = record(store, ["The user saved `b.py`.", "The user ran `pytest`; it failed (exit 1)."], "Fix the test",
                  "accepted", 2000.0)
    gone = record(store, ["The user saved `c.py`."], "Add a TODO note", "rejected", 3000.0)
    halved = record(store, ["The user saved `d.py`.", "The user ran `tox`; it failed (exit 1)."], "Fix tox",
                    "rejected", 4000.0)
    record(store, ["The user saved `e.py`."], "Later, maybe", "snoozed", 5000.0)
    # retention (the store's own API) drops the first proposal's events but not the proposal
    assert store.forget(before=1005.0) == {"events": 2, "proposals": 0}
    store.close()
    with sqlite3.connect(tmp_path / "store.db") as db:  # an older store: answers outliving their proposal
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute("DELETE FROM proposals WHERE id = ?", (gone.id,))
        db.execute("DELETE FROM events WHERE id = ?", (halved.event_ids[0],))
    db.close()
    store = Store(tmp_path / "store.db")
    rows = personal.outcome_rows(store)
    store.close()
    assert [(r.task, r.valid) for r in rows] == [("Fix the test", True), ("Fix tox", False)]
    assert len(rows[0].obs) == 2 and len(rows[1].obs) == 1 and "tox" in rows[1].obs[0]["event"]
    assert pruned.id and kept.id


def test_a_stream_too_small_to_split_keeps_every_key(tmp_path: Path) -> None:
    one_moment = [r for r in export_rows() if r["moment"]["id"] == "missing_module-0"]
    assert len(one_moment) == 2
    stream = tmp_path / "one-moment.jsonl"
    stream.write_text("".join(json.dumps(r) + "\n" for r in one_moment))
    command = [sys.executable, "-m", "companion", "eval", "learning", "--persona", "installs-and-commands",
               "--moments-export", str(stream), "--checkpoints", "0,10", "--no-retrain", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    persona = result["personas"]["installs-and-commands"]
    assert persona["curve"] == [] and persona["status"].startswith("the stream is too small")
    assert FIGURE_KEYS <= set(persona)
    assert {persona[k] for k in FIGURE_KEYS} == {None, TOO_SMALL}
    assert result["goals"]["installs-and-commands"] == {"f1_plus_10_at_50": None, "quiet_within_5": None,
                                                        "follows_within_10": None}


def test_quiet_counted_by_the_base_gate_is_not_a_pass() -> None:
    point = {"answers": 50, "f1": 0.9, "base_f1": 0.5}
    measured = {"curve": [point], "quiet_kind": "k", "quiet_after_rejections": 3, "quiet_status": None,
                "changed_kind": "k", "follows_change_within": 12, "follows_status": None}
    already_quiet = {**measured, "quiet_after_rejections": None, "quiet_status": BASE_QUIET}
    old_file = {key: value for key, value in measured.items() if not key.endswith("_status")}
    old_file["quiet_after_rejections"] = 0  # a result saved before quiet_status existed
    skipped = {**measured, "curve": [{"answers": 50, "f1": None, "base_f1": 0.5}]}
    verdicts = goals({"personas": {"measured": measured, "already_quiet": already_quiet, "old": old_file,
                                   "skipped": skipped}})
    assert verdicts["measured"] == {"f1_plus_10_at_50": True, "quiet_within_5": True, "follows_within_10": False}
    assert verdicts["already_quiet"]["quiet_within_5"] is None
    assert verdicts["old"]["quiet_within_5"] is None
    assert verdicts["skipped"]["f1_plus_10_at_50"] is None
