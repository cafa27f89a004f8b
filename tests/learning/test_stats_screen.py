"""The dashboard's Stats screen draws the user's own curve and the kinds of help the gate holds back
(companion/gate/agreement.py), from a real store, with the real gate, driven by Pilot."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.events import Event
from companion.gate.agreement import agreement
from companion.proposals import Outcome, Proposal
from companion.store import Store
from companion.tui.app import CompanionApp
from companion.tui.screens.stats import StatsScreen
from tests.tui.helpers import screen_text, until

pytestmark = pytest.mark.timeout(180)
NOW = 1_795_000_000.0


def answer(store: Store, workspace: str, sentence: str, task: str, outcome: str, ts: float, rule: str | None,
           score: float) -> None:
    event = Event("companion", "companion.replayed", {"sentence": sentence}, workspace, ts=ts)
    store.add_events([event])
    proposal = Proposal(task=task, event_ids=[event.id], workspace=workspace, ts=ts + 1, surfaced=True,
                        score=score, rule=rule, trigger="file.saved")
    store.save_proposal(proposal)
    store.record_outcome(Outcome(proposal.id, outcome, ts=ts + 2, via="test"))


def fill(store: Store, workspace: str) -> None:
    for k in range(6):
        answer(store, workspace, f"The user saved `src/pkg/mod{k}.py` (+4 −0 lines), changing `mod{k}`.",
               f"Add a TODO note to finish mod{k}", "rejected", NOW + 100 * k, None, 0.9)
        answer(store, workspace, f"The user ran `python tools/t{k}.py` in `tools/`; it failed (exit 1) after 0.3 s: "
               f"ModuleNotFoundError: No module named 'lib{k}'.", f"Install the missing module: pip install lib{k}",
               "accepted", NOW + 100 * k + 50, "missing_module", 0.9)


def test_agreement_from_a_real_store_with_the_real_gate(tmp_path: Path) -> None:
    from companion.gate.reward import RewardGate

    store = Store(tmp_path / "store.db")
    empty = agreement(store, "/w", None)
    assert empty.points == [] and empty.status.startswith("no answers yet")
    fill(store, "/w")
    learnt = agreement(store, "/w", RewardGate(store=store, workspace="/w"))
    assert len(learnt.points) == 12 and learnt.overall == 0.5  # every stored score was 0.9: half were wrong
    kinds = {k.name: k for k in learnt.kinds}
    assert kinds["model on file.saved"].held_back is True and kinds["model on file.saved"].accepted == 0
    assert kinds["rule missing_module"].held_back is False
    store.close()


async def test_the_stats_screen_draws_the_curve_and_what_is_held_back(repo: Path) -> None:
    app = CompanionApp(repo, connect=False, start_daemon=False, now=lambda: NOW + 3600)
    store = app.store()
    fill(store, str(app.workspace))
    async with app.run_test(size=(140, 70)) as pilot:
        app.push_screen(StatsScreen())
        await until(pilot, lambda: isinstance(app.screen, StatsScreen) and app.screen.learnt is not None,
                    timeout=120, what="the learning figures")
        app.screen.query_one("#stats").scroll_end(animate=False)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "the gate agrees with your answers" in text
        assert "12 answers (6 accepted)" in text
        assert "held back" in text and "let through" in text and "rule missing_module" in text
