"""The default adapter shipped in companion/agent/adapter/ loads on a fresh install and the agent uses it."""

from __future__ import annotations

import json

import pytest

from companion.agent.evaluate import well_formed
from companion.config import Config
from companion.agent.adapters import SHIPPED, shipped_adapter

OBSERVATIONS = [{"time": "2026-03-02 10:14:03", "event": "The user saved `app/db.py` (42 lines, 3 changed)."},
                {"time": "2026-03-02 10:14:20", "event": "The user ran `pytest` in `.`; it failed (exit 1) after 1.2 s: "
                                                         "NameError: name 'nme' is not defined."}]

pytestmark = pytest.mark.skipif(shipped_adapter() is None, reason="no default adapter ships in this checkout")


def test_the_card_says_how_it_was_trained_and_that_it_beat_the_untuned_model() -> None:
    card = json.loads((SHIPPED / "card.json").read_text())
    assert card["config"]["base_only"] and card["rebuild"]
    untuned, tuned = card["eval_agent"]["untuned"], card["eval_agent"]["tuned"]
    assert tuned["F1"] > untuned["F1"] and tuned["well_formed_json"] >= untuned["well_formed_json"]
    assert (tuned["events"], tuned["max_steps"]) == (untuned["events"], untuned["max_steps"])


@pytest.mark.slow
@pytest.mark.parametrize("backend_name", ["llama_cpp", "transformers"])
def test_a_fresh_install_runs_the_shipped_adapter_with_its_training_prompt(backend_name: str) -> None:
    from companion.agent.backends import load_backend
    from companion.agent.backends.llama_cpp import available
    from companion.agent.runner import Agent
    from companion.agent.adapters import history
    from tests.llama_server import require_llama_cpp
    from tests.programs import in_ci

    if backend_name == "llama_cpp" and in_ci():
        require_llama_cpp()  # CI builds llama-cpp-python (make llama): the fallback there would hide a failed build
    assert history() == []  # nothing trained or activated: the shipped default is what runs
    config = Config()
    config.agent.backend = backend_name
    config.agent.timeout_s = 600.0  # the shared CI machine can be slow; speed is measured in benchmarks/
    backend = load_backend(config)
    assert backend.adapter == SHIPPED and backend.model_name.endswith("+adapter")
    assert backend.name == (backend_name if backend_name == "transformers" or available() else "transformers")
    agent = Agent.from_config(backend, config)
    try:
        assert not agent.few_shot and agent.max_observation_tokens == 160
        result = agent.step(OBSERVATIONS)
    finally:
        agent.close()
    assert len(result.messages) == 2  # system rules + this step, as in training
    assert well_formed(result.reply.raw), result.reply.raw
