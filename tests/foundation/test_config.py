"""Configuration: layered TOML files and COMPANION_* variables, with errors that name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion import paths
from companion.config import ConfigError, load_config, update_config_file


def write_user_config(text: str) -> Path:
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_files(workspace: Path) -> None:
    config = load_config(workspace, environ={})
    assert config.general.interruption_level == 3
    assert config.sources == []


def test_layers_user_then_workspace_then_environment(workspace: Path) -> None:
    write_user_config("[general]\ninterruption_level = 2\nmax_age_days = 30\n[agent]\nbackend = 'ollama'\n")
    (workspace / ".companion.toml").write_text("[general]\ninterruption_level = 4\n")
    config = load_config(workspace, environ={"COMPANION_AGENT_MODEL": "qwen2.5-coder", "COMPANION_HOME": "/x"})
    assert config.general.interruption_level == 4  # workspace beats user
    assert config.general.max_age_days == 30  # user value kept where the workspace is silent
    assert config.agent.backend == "ollama"
    assert config.agent.model == "qwen2.5-coder"  # environment beats files
    assert len(config.sources) == 3


def test_environment_types_are_parsed(workspace: Path) -> None:
    config = load_config(workspace, environ={"COMPANION_ENGINE_ENABLED": "false", "COMPANION_ENGINE_COOLDOWN_S": "5",
                                             "COMPANION_REDACTION_PATTERNS": "foo\\d+, bar"})
    assert config.engine.enabled is False
    assert config.engine.cooldown_s == 5.0
    assert config.redaction.patterns == ["foo\\d+", "bar"]


def test_unknown_key_names_file_and_key(workspace: Path) -> None:
    path = write_user_config("[general]\ninteruption_level = 2\n")
    with pytest.raises(ConfigError) as error:
        load_config(workspace, environ={})
    assert str(path) in str(error.value) and "general.interuption_level" in str(error.value)


def test_unknown_section(workspace: Path) -> None:
    (workspace / ".companion.toml").write_text("[agnet]\nbackend='ollama'\n")
    with pytest.raises(ConfigError, match=r"\.companion\.toml: unknown section \[agnet\]"):
        load_config(workspace, environ={})


def test_wrong_type_names_file_and_key(workspace: Path) -> None:
    (workspace / ".companion.toml").write_text("[watch]\ndebounce_ms = 'fast'\n")
    with pytest.raises(ConfigError, match=r"watch\.debounce_ms: expected int, got str 'fast'"):
        load_config(workspace, environ={})


def test_invalid_toml_is_reported(workspace: Path) -> None:
    (workspace / ".companion.toml").write_text("[general\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(workspace, environ={})


def test_bad_environment_value(workspace: Path) -> None:
    with pytest.raises(ConfigError, match="COMPANION_GENERAL_INTERRUPTION_LEVEL"):
        load_config(workspace, environ={"COMPANION_GENERAL_INTERRUPTION_LEVEL": "high"})
    with pytest.raises(ConfigError, match="unknown key agent.modle"):
        load_config(workspace, environ={"COMPANION_AGENT_MODLE": "x"})


def test_range_checks(workspace: Path) -> None:
    (workspace / ".companion.toml").write_text("[general]\ninterruption_level = 9\n")
    with pytest.raises(ConfigError, match="1 to 5"):
        load_config(workspace, environ={})


def test_update_config_file_keeps_other_settings(workspace: Path) -> None:
    path = write_user_config("[agent]\nbackend = 'ollama'\n")
    update_config_file(path, "general", {"interruption_level": 5})
    config = load_config(workspace, environ={})
    assert config.general.interruption_level == 5 and config.agent.backend == "ollama"
    with pytest.raises(ConfigError):
        update_config_file(path, "general", {"no_such_key": 1})
    assert load_config(workspace, environ={}).general.interruption_level == 5  # the bad update wrote nothing


def test_one_place_says_where_ollama_answers() -> None:
    from companion.config import DEFAULT_OLLAMA_HOST, ollama_host

    assert ollama_host(environ={}) == DEFAULT_OLLAMA_HOST
    assert ollama_host("", environ={"OLLAMA_HOST": "10.0.0.5:11434"}) == "http://10.0.0.5:11434"
    assert ollama_host("", "https://gpu.box:443", environ={"OLLAMA_HOST": "x:1"}) == "https://gpu.box:443"
    assert ollama_host("http://gate:1", "http://agent:2", environ={}) == "http://gate:1"  # the gate's own first
