"""With a LoRA adapter the agent prompts exactly as the adapter was trained; `[agent] adapter` picks it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion.agent.backends import BackendUnavailable, load_backend
from companion.agent.backends.llama_cpp import available as llama_cpp_available
from companion.agent.backends.scripted import ScriptedBackend
from companion.agent.runner import Agent
from companion.config import Config
from tests.engine.conftest import reply

OBSERVATIONS = [{"time": f"2026-03-02 10:{i:02d}:00", "event": f"The user saved `app/module_{i}.py` ({i} lines)."}
                for i in range(40)] + [{"time": "2026-03-02 10:41:00",
                                        "event": "The user ran `pytest` in `.`; it failed (exit 1): 2 failed."}]


def fake_adapter(folder: Path, observation_tokens: int | None = None) -> Path:
    """An adapter folder as far as selection and prompt settings go (never loaded into a model)."""
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    (folder / "adapter_model.safetensors").write_bytes(b"")
    if observation_tokens is not None:
        (folder / "training.json").write_text(json.dumps({"config": {"observation_tokens": observation_tokens}}))
    return folder


def test_the_adapter_setting_selects_untuned_a_folder_or_the_active_one(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from companion.agent.adapters import activate, active_adapter, for_agent

    monkeypatch.setenv("COMPANION_MODELS_DIR", str(tmp_path / "models"))  # activation never touches the shared cache

    chosen = fake_adapter(tmp_path / "mine")
    assert for_agent("none") is None and for_agent("NONE") is None
    assert for_agent(str(chosen)) == chosen
    assert for_agent("") == active_adapter()
    activate(chosen)
    assert for_agent("") == chosen and for_agent("none") is None
    with pytest.raises(ValueError, match="not a LoRA adapter folder"):
        for_agent(str(tmp_path / "missing"))


def test_a_bad_adapter_setting_is_a_clear_backend_error(tmp_path: Path) -> None:
    config = Config()
    config.agent.adapter = str(tmp_path / "nowhere")
    with pytest.raises(BackendUnavailable, match="not a LoRA adapter folder"):
        load_backend(config)
    config.agent.backend = "transformers"
    with pytest.raises(BackendUnavailable, match="not a LoRA adapter folder"):
        load_backend(config)


def test_with_an_adapter_the_agent_prompt_is_the_training_prompt(tmp_path: Path) -> None:
    from training.dataset import chat_example

    adapter = fake_adapter(tmp_path / "adapter", observation_tokens=120)
    backend = ScriptedBackend([reply("Fix the two failing tests")])
    backend.adapter = adapter  # what the transformers backend sets when it merged an adapter
    config = Config()
    assert config.agent.few_shot and config.agent.max_observation_tokens == 600  # the untuned defaults
    agent = Agent.from_config(backend, config)
    assert (agent.few_shot, agent.max_observation_tokens) == (False, 120)
    agent.step(OBSERVATIONS)
    sent = backend.calls[-1]
    trained = chat_example(OBSERVATIONS, {"proactive_task": "x"}, observation_tokens=120)["messages"][:-1]
    assert sent == trained  # system rules + one user turn, the same observations kept
    assert len(sent) == 2 and "module_0.py" not in sent[-1]["content"] and "2 failed" in sent[-1]["content"]


def test_an_adapter_without_a_training_record_gets_the_dataset_defaults(tmp_path: Path) -> None:
    from companion.agent.adapters import prompt_settings
    from companion.agent.adapters import AGENT_OBSERVATION_TOKENS

    assert prompt_settings(fake_adapter(tmp_path / "bare")) == {"few_shot": False,
                                                                "max_observation_tokens": AGENT_OBSERVATION_TOKENS}


def test_without_an_adapter_the_config_prompt_is_used() -> None:
    backend = ScriptedBackend([reply(None)])
    config = Config()
    config.agent.max_observation_tokens = 300
    agent = Agent.from_config(backend, config)
    assert (agent.few_shot, agent.max_observation_tokens) == (True, 300)
    agent.step(OBSERVATIONS)
    assert len(backend.calls[-1]) == 6  # system, two few-shot exchanges, the step


def test_doctor_says_which_adapter_the_agent_runs(workspace: Path, tmp_path: Path) -> None:
    from companion.agent.checks import agent_backend

    adapter = fake_adapter(tmp_path / "my-adapter")
    config = workspace / ".companion.toml"
    config.write_text(f'[agent]\nadapter = "{adapter}"\n')
    result = agent_backend(workspace)
    assert result.ok and "fine-tuned adapter" in result.detail and str(adapter) in result.detail
    assert ("llama.cpp (merged into a Q8_0 copy)" if llama_cpp_available() else "transformers") in result.detail
    config.write_text(f'[agent]\nadapter = "{tmp_path / "nowhere"}"\n')
    assert not agent_backend(workspace).ok
    config.write_text('[agent]\nbackend = "transformers"\nadapter = "none"\n')
    assert "adapter" not in agent_backend(workspace).detail
