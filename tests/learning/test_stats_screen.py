"""The dashboard's Stats screen draws the user's own curve and the kinds of help the gate now holds
back (companion/gate/agreement.py): from a real daemon's store, read through the daemon, by Pilot."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from companion.gate.agreement import agreement
from companion.proposals import Outcome, Proposal
from companion.store import Store
from companion.tui.app import CompanionApp
from companion.tui.screens.stats import StatsScreen
from tests.tui.conftest import live  # noqa: F401 - the real in-process daemon fixture
from tests.tui.helpers import screen_text, until

pytestmark = pytest.mark.timeout(180)


def history(offer, record, start: float) -> None:  # noqa: ANN001
    """Six rejected TODO reminders, then one the gate kept silent; six accepted installs, then one
    it surfaced."""
    for k in range(6):
        todo = offer(Proposal(task=f"Add a TODO note {k}", surfaced=True, score=0.9, trigger="file.saved",
                              ts=start + 100 * k))
        record(Outcome(todo.id, "rejected", via="test", ts=start + 100 * k + 5))
        install = offer(Proposal(task=f"pip install lib{k}", surfaced=True, score=0.9, rule="imports.python_missing",
                                 trigger="shell.command", ts=start + 100 * k + 50))
        record(Outcome(install.id, "accepted", via="test", ts=start + 100 * k + 55))
    offer(Proposal(task="Add a TODO note again", surfaced=False, status="silent", score=0.2, trigger="file.saved",
                   ts=start + 1000))
    offer(Proposal(task="pip install lib9", surfaced=True, score=0.9, rule="imports.python_missing",
                   trigger="shell.command", ts=start + 1001))


def test_agreement_over_proposals_from_a_real_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    assert agreement(store.proposals()).status.startswith("no answers yet")

    def offer(p: Proposal) -> Proposal:
        store.save_proposal(p)
        return p

    history(offer, store.record_outcome, 1_795_000_000.0)
    learnt = agreement(store.proposals(), threshold=0.5)
    assert len(learnt.points) == 12 and learnt.overall == 0.5  # every stored score was 0.9: the rejects disagreed
    assert learnt.points[-1][1] == 0.5 and learnt.status == "12 answers (6 accepted)"
    kinds = {k.name: k for k in learnt.kinds}
    assert kinds["model on file.saved"].held_back is True and kinds["model on file.saved"].accepted == 0
    assert kinds["rule imports.python_missing"].held_back is False
    store.close()


async def test_the_stats_screen_draws_the_curve_and_what_is_held_back(live, repo: Path) -> None:  # noqa: F811
    history(live.offer, live.store.record_outcome, time.time() - 7200)
    app = CompanionApp(repo, start_daemon=False)
    async with app.run_test(size=(140, 70)) as pilot:
        await until(pilot, lambda: app.main.connection.connected, what="attached")
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, StatsScreen) and app.screen.learnt is not None,
                    timeout=60, what="the learning figures")
        app.screen.query_one("#stats").scroll_end(animate=False)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "the gate agrees with your answers" in text and "12 answers (6 accepted)" in text
        assert "held back" in text and "let through" in text and "rule imports.python_missing" in text
