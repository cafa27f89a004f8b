"""Live settings on a real daemon: the config file edited while it runs reaches the engine's level,
budget and model without a restart; what needs a restart is named in the status; a broken file
changes nothing and says why (companion/services/settings.py, companion/live_config.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

from companion.cli.control import describe
from companion.engine.engine import Engine
from companion.ipc import Client
from companion.live_config import restart_needed
from companion.services.settings import SettingsService
from tests.conftest import wait_for
from tests.engine.conftest import KeywordGate, emit_command, reply


def write_config(repo: Path, level: int, script: str, per_hour: int = 100, extra: str = "") -> None:
    (repo / ".companion.toml").write_text(f"""
[general]
interruption_level = {level}
[agent]
backend = "scripted"
script = "{repo / script}"
timeout_s = 10.0
[engine]
cooldown_s = 0.0
backoff_s = 0.0
idle_s = 3600.0
repeat_window_s = 0.0
max_per_hour = {per_hour}
[quickfix]
enabled = false
{extra}""")


def failing(module: str) -> str:
    return f"{sys.executable} -c \"import {module}\""


def test_config_file_edits_reach_the_running_engine(repo: Path, daemon_factory: Callable[..., Any]) -> None:
    (repo / "a.json").write_text(json.dumps([reply("Install no_such_module_a", "pip install a", "run_command")]))
    (repo / "b.json").write_text(json.dumps([reply("Install no_such_module_b", "pip install b", "run_command")]))
    write_config(repo, 3, "a.json")
    daemon = daemon_factory(repo, services=False, watcher_names=set())
    engine = Engine(daemon, gate=KeywordGate())  # the backend comes from the config: the scripted file a.json
    settings = SettingsService(daemon, poll_s=0.1)
    for service in (engine, settings):
        service.start()
        daemon.services.append(service)
    heard: list[dict[str, Any]] = []
    client = Client(daemon.socket_path, on_message=heard.append)
    client.request("subscribe", topics=["config"])
    try:
        emit_command(daemon, repo, failing("no_such_module_a"))
        first = wait_for(lambda: daemon.store.proposals(workspace=str(daemon.workspace)), timeout=30)
        assert first[0].task == "Install no_such_module_a"
        assert engine.proposer is not None and engine.proposer.threshold() == 0.5  # level 3

        write_config(repo, 1, "b.json", per_hour=7, extra="[watch]\ndebounce_ms = 50\n")
        wait_for(lambda: daemon.config.general.interruption_level == 1, timeout=10)
        assert engine.proposer.threshold() == 0.9  # the engine's level follows, no copy kept
        assert engine.budget.config.max_per_hour == 7  # the budget reads the same section
        status = client.request("status")["status"]
        assert status["settings"]["restart_needed"] == ["watch.debounce_ms"]
        assert "need a restart: watch.debounce_ms" in describe(status)  # what `companion status` prints
        assert status["gate"]["level"] == 1 and status["gate"]["threshold"] == 0.9
        message = wait_for(lambda: [m for m in heard if m.get("topic") == "config"])[-1]
        assert message["config"]["general"]["interruption_level"] == 1
        assert message["restart_needed"] == ["watch.debounce_ms"]

        # the model changed in the file: the next step runs on the new one
        emit_command(daemon, repo, failing("no_such_module_b"))
        wait_for(lambda: len(daemon.store.proposals(workspace=str(daemon.workspace))) == 2, timeout=30)
        newest = daemon.store.proposals(workspace=str(daemon.workspace))[0]
        assert newest.task == "Install no_such_module_b"  # only b.json says so
        assert client.request("status")["status"]["agent"]["model"] == "b.json"

        # a broken file: reported, and nothing changes
        (repo / ".companion.toml").write_text("[general]\ninterruption_level = 9\n")
        wait_for(lambda: client.request("status")["status"]["settings"]["error"], timeout=10)
        assert daemon.config.general.interruption_level == 1 and engine.proposer.threshold() == 0.9
    finally:
        client.close()


def test_the_dashboard_reload_and_editor_settings_share_one_path(repo: Path, daemon_factory: Callable[..., Any]) -> None:
    write_config(repo, 3, "a.json")
    (repo / "a.json").write_text(json.dumps([reply(None)]))
    daemon = daemon_factory(repo, services=False, watcher_names=set())
    settings = SettingsService(daemon, poll_s=3600.0)  # no watching: only the operations
    settings.start()
    daemon.services.append(settings)
    with Client(daemon.socket_path) as client:
        reply_ = client.request("configure", settings={"general": {"interruption_level": 2}})
        assert reply_["config"] == {"general": {"interruption_level": 2}} and daemon.config.general.interruption_level == 2
        write_config(repo, 4, "a.json", per_hour=3)
        answer = client.request("reload_config")
        # the editor's level stays on top of the file; the file's budget arrives
        assert daemon.config.general.interruption_level == 2 and daemon.config.engine.max_per_hour == 3
        assert answer["restart_needed"] == [] and "engine.max_per_hour" in answer["changed"]


def test_which_settings_need_a_restart() -> None:
    assert restart_needed(["general.interruption_level", "agent.model", "gate.kind", "engine.max_per_hour"]) == []
    assert restart_needed(["watch.ignore", "redaction.patterns", "engine.enabled", "general.max_age_days"]) == \
        ["engine.enabled", "general.max_age_days", "redaction.patterns", "watch.ignore"]
