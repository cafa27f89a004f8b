"""Snapshots (pytest-textual-snapshot) of the dashboard's screens at 80×24 and 160×48.

Deterministic by construction: a fixed clock (`now`), fixed event times shown in UTC, and data
fed through the app's own message path (the messages the daemon link posts); stats are computed
from a real daemon's store, read through its `proposals` operation. Update with `pytest tests/tui/test_snapshots.py --snapshot-update`
after checking the report.
"""

from __future__ import annotations

import pytest

from companion.events import Event
from companion.store import Store
from companion.tui.app import CompanionApp
from companion.tui.messages import DaemonConnected, StatusUpdated
from tests.tui.helpers import (FIXED_NOW, WORKSPACE, history_proposals, sample_events, sample_proposals,
                               until)

pytestmark = pytest.mark.timeout(120)
STATUS = {"pid": 4242, "watchers": ["file", "git", "shell"], "workspace": WORKSPACE}


def dashboard() -> CompanionApp:
    store = Store()
    for proposal in [*history_proposals(), *sample_proposals()]:
        store.save_proposal(proposal)
    store.close()
    return CompanionApp(WORKSPACE, connect=False, now=lambda: FIXED_NOW)


async def fill(pilot) -> None:
    app = pilot.app
    app.post_message(DaemonConnected(STATUS, sample_events(), [p.to_dict() for p in sample_proposals()]))
    app.post_message(StatusUpdated(STATUS, None, "transformers (inside the daemon)"))
    await until(pilot, lambda: app.main.detail.why, what="the why events")
    await pilot.pause(0.1)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_main_screen(snap_compare, size) -> None:
    assert snap_compare(dashboard(), terminal_size=size, run_before=fill)


def test_details_screen(snap_compare) -> None:
    async def open_details(pilot) -> None:
        await fill(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "DetailsScreen", what="details")
        await pilot.pause(0.1)

    assert snap_compare(dashboard(), terminal_size=(80, 24), run_before=open_details)


def test_help_screen(snap_compare) -> None:
    async def open_help(pilot) -> None:
        await fill(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.1)

    assert snap_compare(dashboard(), terminal_size=(80, 24), run_before=open_help)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_stats_screen(snap_compare, size, repo, daemon_factory) -> None:
    daemon = daemon_factory(repo, services=False, watcher_names=set())
    for proposal in [*history_proposals(str(daemon.workspace)), *sample_proposals(str(daemon.workspace))]:
        daemon.store.save_proposal(proposal)
    # the events behind the proposals, so the "why" read through the daemon is the fixed timeline's
    daemon.store.add_events(Event.from_dict(raw) for raw in sample_events(str(daemon.workspace)))
    app = CompanionApp(repo, connect=False, now=lambda: FIXED_NOW)

    async def open_stats(pilot) -> None:
        pilot.app.link.start()  # a real link to the real daemon; the screen's fixed data comes after
        await until(pilot, lambda: pilot.app.link.connected and pilot.app.main.connection.connected, what="attached")
        pilot.app.sub_title = WORKSPACE
        await fill(pilot)
        await pilot.press("g")
        await until(pilot, lambda: getattr(pilot.app.screen, "result", None) is not None, what="the stats")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=size, run_before=open_stats)
