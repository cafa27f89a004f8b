"""The gate reads a user's answers on alike proposals from a real store (companion/gate/preference.py)."""

from __future__ import annotations

import sqlite3

from companion.events import Event
from companion.gate.reward import RewardGate
from companion.proposals import Outcome, Proposal
from companion.store import Store

WORKSPACE = "/work/demo"
TODO_EVENTS = ["The user saved `src/pkg/cache.py` (+4 −0 lines), changing `cache`."]
TODO_TASK = "Add a TODO note to finish the cache"


def record(store: Store, sentences: list[str], task: str, outcome: str, ts: float) -> Proposal:
    events = [Event("companion", "companion.replayed", {"sentence": s}, WORKSPACE, ts=ts + i) for i, s in enumerate(sentences)]
    store.add_events(events)
    proposal = Proposal(task=task, event_ids=[e.id for e in events], workspace=WORKSPACE, ts=ts + 10, surfaced=True)
    store.save_proposal(proposal)
    store.record_outcome(Outcome(proposal.id, outcome, ts=ts + 20))
    return proposal


def obs(sentences: list[str]) -> list[dict[str, str]]:
    return [{"time": "2026-12-04 03:00:00", "event": s} for s in sentences]


def test_accepts_of_a_kind_let_it_through_and_leave_other_help_alone(tmp_path) -> None:
    store = Store(tmp_path / "store.db")
    gate = RewardGate(store=store, workspace=WORKSPACE)
    fresh = ["The user saved `src/pkg/loader.py` (+3 −0 lines), changing `loader`."]
    other = (["The user ran `python tools/x.py` in `tools/`; it failed (exit 1) after 0.3 s: "
              "ModuleNotFoundError: No module named 'yaml'."], "Install the missing module: pip install pyyaml")
    before = gate.score(obs(fresh), "Add a TODO note to finish the loader")
    other_before = gate.score(obs(other[0]), other[1])
    assert before < gate.thresholds()[3]  # the base gate holds a TODO reminder back
    for k in range(5):
        record(store, [TODO_EVENTS[0].replace("cache", f"cache{k}")], f"{TODO_TASK} {k}", "accepted", 1000.0 + 100 * k)
    gate.forget_cache()
    after = gate.score(obs(fresh), "Add a TODO note to finish the loader")
    assert after > gate.thresholds()[3]  # this user wants them: a new one on a new file gets through
    assert abs(gate.score(obs(other[0]), other[1]) - other_before) < 0.05
    store.close()


def test_a_change_of_mind_is_followed_by_the_latest_answers(tmp_path) -> None:
    store = Store(tmp_path / "store.db")
    gate = RewardGate(store=store, workspace=WORKSPACE)
    for k in range(6):
        record(store, TODO_EVENTS, f"{TODO_TASK} {k}", "accepted", 1000.0 + 100 * k)
    gate.forget_cache()
    welcomed = gate.score(obs(TODO_EVENTS), TODO_TASK)
    for k in range(6):
        record(store, TODO_EVENTS, f"{TODO_TASK} again {k}", "rejected", 2000.0 + 100 * k)
    gate.forget_cache()
    assert gate.score(obs(TODO_EVENTS), TODO_TASK) < welcomed
    assert gate.score(obs(TODO_EVENTS), TODO_TASK) < gate.thresholds()[3]
    store.close()


def test_no_answers_is_the_base_gate_and_deleted_proposals_are_survived(tmp_path) -> None:
    store = Store(tmp_path / "store.db")
    base = RewardGate(workspace=WORKSPACE)
    personal = RewardGate(store=store, workspace=WORKSPACE)
    pair = (obs(TODO_EVENTS), TODO_TASK)
    assert personal.score(*pair) == base.score(*pair)
    kept = record(store, TODO_EVENTS, TODO_TASK, "rejected", 1000.0)
    gone = record(store, TODO_EVENTS, TODO_TASK + " now", "rejected", 2000.0)
    store.close()
    with sqlite3.connect(tmp_path / "store.db") as db:  # answers whose proposal or events were deleted
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute("DELETE FROM proposals WHERE id = ?", (gone.id,))
        db.execute("DELETE FROM events")
    store = Store(tmp_path / "store.db")
    personal = RewardGate(store=store, workspace=WORKSPACE)
    assert 0.0 <= personal.score(*pair) <= 1.0
    assert personal.preference() is not None and personal.preference().count == 0  # nothing left to learn from
    assert kept.id
    store.close()
