"""The interruption budget with a real store, and inside the running engine."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest

from companion.config import EngineConfig
from companion.engine.budget import InterruptionBudget, in_quiet_hours, parse_quiet_hours, similar_tasks
from companion.proposals import Outcome, Proposal
from companion.store import Store
from tests.conftest import run_cli, wait_for
from tests.engine.conftest import FAILING, emit_command, reply


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(companion_home: Path) -> Store:
    with Store() as opened:
        yield opened


def offer(store: Store, task: str, ts: float, surfaced: bool = True) -> Proposal:
    proposal = Proposal(task=task, workspace="/ws", ts=ts, surfaced=surfaced, status="open" if surfaced else "silent")
    store.save_proposal(proposal)
    return proposal


def test_hourly_limit_and_cooldown(store: Store) -> None:
    clock = Clock()
    budget = InterruptionBudget(store, "/ws", EngineConfig(max_per_hour=2, cooldown_s=60, backoff_s=0), clock)
    assert budget.hold_reason() is None
    offer(store, "a", clock.now)
    assert "cooling down" in budget.hold_reason()
    clock.now += 61
    assert budget.hold_reason() is None
    offer(store, "b", clock.now)
    clock.now += 61
    assert "2 proposals in the last hour" in budget.hold_reason()
    offer(store, "silent ones do not count", clock.now, surfaced=False)
    clock.now += 3600
    assert budget.hold_reason() is None


def test_backoff_after_ignored_or_rejected_and_no_repeats(store: Store) -> None:
    clock = Clock()
    budget = InterruptionBudget(store, "/ws", EngineConfig(cooldown_s=0, backoff_s=900), clock)
    first = offer(store, "Run the failing tests again", clock.now)
    store.record_outcome(Outcome(first.id, "rejected", ts=clock.now, via="cli"))
    assert "backing off after a rejected" in budget.hold_reason()
    assert budget.repeats("run the failing tests") == "Run the failing tests again"
    assert budget.repeats("Install requests") is None
    clock.now += 901
    assert budget.hold_reason() is None
    clock.now += 3600
    assert budget.repeats("run the failing tests") is None


def test_pause_and_resume_persist_in_the_store(store: Store) -> None:
    clock = Clock()
    budget = InterruptionBudget(store, "/ws", EngineConfig(), clock)
    budget.pause(1800)
    again = InterruptionBudget(store, "/ws", EngineConfig(), clock)  # e.g. after a daemon restart
    assert again.hold_reason().startswith("paused until")
    again.resume()
    assert budget.hold_reason() is None


def test_quiet_hours() -> None:
    window = parse_quiet_hours("22:00-07:00")
    at = lambda h, m: datetime(2026, 1, 1, h, m).timestamp()
    assert in_quiet_hours(window, at(23, 30)) and in_quiet_hours(window, at(6, 59))
    assert not in_quiet_hours(window, at(7, 0)) and not in_quiet_hours(window, at(12, 0))
    assert in_quiet_hours(parse_quiet_hours("12:00-13:00"), at(12, 30))
    assert parse_quiet_hours("") is None
    with pytest.raises(ValueError):
        parse_quiet_hours("late")
    assert similar_tasks("Run the tests", "run tests") and not similar_tasks("Run the tests", "Install numpy")


def test_engine_respects_budget_and_cli_pause(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [reply("Fix the import of no_such_module_here", "a"),
                                                         reply("Install no_such_module_here", "b"),
                                                         reply("Drop that no_such_module_here line", "c")], engine__max_per_hour=2)
    emit_command(daemon, repo, FAILING)
    wait_for(lambda: len(daemon.store.proposals()) == 1)
    done = run_cli("pause", "30m", str(repo), "--json")
    assert done.returncode == 0, done.stderr
    emit_command(daemon, repo, FAILING)
    wait_for(lambda: engine.stats["held"] == 1)
    assert len(backend.calls) == 1 and engine.stats["last_hold"].startswith("paused until")
    assert run_cli("resume", str(repo)).returncode == 0
    emit_command(daemon, repo, FAILING)
    wait_for(lambda: len(daemon.store.proposals()) == 2)
    emit_command(daemon, repo, FAILING)  # the hourly budget of 2 is spent
    wait_for(lambda: engine.stats["held"] == 2)
    assert "2 proposals in the last hour" in engine.stats["last_hold"] and len(backend.calls) == 2


def test_a_task_just_answered_is_not_offered_again(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [reply("Fix the missing import no_such_module_here", "a"),
                                                         reply("fix the missing import no_such_module_here!", "b")], engine__backoff_s=0.0,
                                                   engine__cooldown_s=0.0)
    emit_command(daemon, repo, FAILING)
    first = wait_for(lambda: daemon.store.proposals())[0]
    daemon.store.record_outcome(Outcome(first.id, "accepted", via="test"))
    emit_command(daemon, repo, FAILING)
    wait_for(lambda: len(backend.calls) == 2)
    time.sleep(0.3)
    assert len(daemon.store.proposals()) == 1
