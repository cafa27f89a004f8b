"""Stats, models and settings screens, driven with keys; figures come from the real store and config."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button, Input, Select

from companion import paths
from companion.config import load_config
from companion.proposals import Outcome, Proposal
from companion.services.settings import SettingsService
from companion.tui import jobs
from companion.tui.app import CompanionApp
from companion.tui.screens.models import ModelsScreen
from companion.tui.screens.settings import SettingsScreen, parse_quiet_hours, settings_updates
from companion.tui.screens.stats import StatsScreen
from tests.tui.helpers import screen_text, until

pytestmark = pytest.mark.timeout(120)


async def test_stats_screen_shows_rates_from_the_store(live, repo: Path) -> None:
    import time

    now = time.time()
    for i, (trigger, outcome) in enumerate([("tests.failed", "accepted"), ("tests.failed", "rejected"),
                                            ("git.conflict", "accepted"), ("shell.command", "ignored")]):
        proposal = live.offer(Proposal(task=f"task {i}", surfaced=True, trigger=trigger, ts=now - 3600 * i - 60))
        live.store.record_outcome(Outcome(proposal_id=proposal.id, outcome=outcome, via="test"))
    app = CompanionApp(repo, start_daemon=False)
    async with app.run_test(size=(120, 45)) as pilot:
        await until(pilot, lambda: app.main.connection.connected, what="attached")
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, StatsScreen) and app.screen.result is not None,
                    what="the stats")
        result = app.screen.result
        assert result.overall.surfaced == 4 and result.overall.accepted == 2
        text = screen_text(app)
        assert "50%" in text and "tests" in text and "git" in text and "shell" in text
        assert "proposals per day" in text and "acceptance / false alarms" in text and "by trigger source" in text
        await pilot.press("w")  # another window recomputes
        await until(pilot, lambda: "last 30 days" in screen_text(app), what="the 30-day window")
        await pilot.press("escape")
        assert app.screen is app.main


async def test_models_screen_reports_what_exists(live, repo: Path) -> None:
    app = CompanionApp(repo, start_daemon=False)
    async with app.run_test(size=(120, 45)) as pilot:
        await until(pilot, lambda: app.main.connection.connected, what="attached")
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, ModelsScreen) and app.screen.checked, what="the check")
        text = screen_text(app)
        configured = load_config(repo).agent.backend  # the engine is off here: the screen shows the config
        assert "agent backend" in text and configured in text and "gate threshold" in text
        available = jobs.command_options(("train", "reward")) is not None
        assert app.screen.query_one("#train", Button).disabled is (not available)
        if not available:
            assert "Training: not available" in text
            await pilot.press("t")
            await pilot.pause(0.2)
            assert not app.screen.running


async def test_settings_are_written_to_the_config_file(live, repo: Path) -> None:
    app = CompanionApp(repo, start_daemon=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: app.main.connection.connected, what="attached")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, SettingsScreen), what="settings")
        screen = app.screen
        assert screen.query_one("#snooze", Input).value == "30m"
        screen.query_one("#level", Select).value = 2
        screen.query_one("#snooze", Input).value = "2h"
        screen.query_one("#quiet", Input).value = "22:00-7:00"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: paths.config_file().exists(), what="the config file")
        config = load_config(repo)
        assert config.general.interruption_level == 2
        assert config.engine.snooze_s == 7200.0
        assert config.engine.quiet_hours == "22:00-07:00"
        screen.query_one("#quiet", Input).value = "late"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "Settings not saved" in screen_text(app), what="the error notification")
        assert load_config(repo).engine.quiet_hours == "22:00-07:00"  # a bad value is refused, nothing lost


async def test_saved_settings_reach_the_running_daemon_without_a_restart(live, repo: Path) -> None:
    settings = SettingsService(live, poll_s=3600.0)  # only the screen's reload_config, no file watching
    settings.start()
    live.services.append(settings)
    app = CompanionApp(repo, start_daemon=False)
    async with app.run_test(size=(100, 50)) as pilot:
        await until(pilot, lambda: app.main.connection.connected, what="attached")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, SettingsScreen), what="settings")
        screen = app.screen
        screen.query_one("#level", Select).value = 5
        screen.query_one("#per-hour", Input).value = "9"
        screen.query_one("#backend", Select).value = "ollama"
        screen.query_one("#model", Input).value = "qwen2.5-coder:1.5b"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: live.config.general.interruption_level == 5, what="the daemon's new level")
        assert live.config.engine.max_per_hour == 9
        assert (live.config.agent.backend, live.config.agent.model) == ("ollama", "qwen2.5-coder:1.5b")
        await until(pilot, lambda: "uses the new settings now" in str(screen.query_one("#settings-note").render()),
                    what="the note that they took effect")


def test_settings_validation() -> None:
    assert parse_quiet_hours("") == ""
    assert parse_quiet_hours(" 9:05 - 17:30 ") == "09:05-17:30"
    with pytest.raises(ValueError, match="HH:MM"):
        parse_quiet_hours("25:00-07:00")
    with pytest.raises(ValueError, match="snooze"):
        settings_updates(3, "soon", "")
    with pytest.raises(ValueError, match="1 to 5"):
        settings_updates(None, "30m", "")
    with pytest.raises(ValueError, match="per hour"):
        settings_updates(3, "30m", "", per_hour="many")
    assert settings_updates(3, "30m", "", "4", "ollama", " m ")["agent"] == {"backend": "ollama", "model": "m"}
    assert "agent" not in settings_updates(3, "30m", "")


async def test_train_button_runs_the_real_command_and_says_how_many_answers_are_missing(live, repo: Path) -> None:
    """With no answered proposals, `companion train reward` refuses and says how many more it needs;
    the dashboard shows that output and stays usable (no model was replaced)."""
    app = CompanionApp(repo, start_daemon=False)
    async with app.run_test(size=(120, 45)) as pilot:
        await until(pilot, lambda: app.main.connection.connected, what="attached")
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, ModelsScreen) and app.screen.checked, what="the check")
        screen = app.screen
        assert not screen.query_one("#train", Button).disabled
        await pilot.press("t")
        assert screen.running
        await until(pilot, lambda: not screen.running, timeout=120, what="the training command to finish")
        await until(pilot, lambda: "more answered proposals" in screen_text(app), what="the command's message")
        assert not screen.query_one("#train", Button).disabled
