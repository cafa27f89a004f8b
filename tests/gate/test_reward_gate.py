"""The shipped reward gate: loads, scores, has monotonic calibrated thresholds, judges obvious
cases sensibly, and its encoder reproduces the transformers embeddings it was trained on."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest

from companion.config import Config
from companion.gate import GateUnavailable, load_gate
from companion.gate.factory import KINDS
from companion.gate.base import threshold_for
from companion.gate.ollama_gate import OllamaGate
from companion.gate.reward import SHIPPED_DIR, RewardGate
from companion.gate import base_set

pytestmark = pytest.mark.slow  # loads MiniLM

ERROR_OBS = [
    {"time": "Day 1, 10:00 AM", "event": "The user opens 'app.py' in Visual Studio Code and edits the function 'load_config'."},
    {"time": "Day 1, 10:02 AM", "event": "The user runs 'python app.py' in the terminal; it fails with ModuleNotFoundError: No module named 'yaml'."},
    {"time": "Day 1, 10:03 AM", "event": "The user searches Google for 'ModuleNotFoundError No module named yaml'."},
]


@pytest.fixture(scope="module")
def gate() -> RewardGate:
    return RewardGate()


def test_shipped_weights_load_and_score(gate: RewardGate) -> None:
    assert gate.weights_dir == SHIPPED_DIR
    card = json.loads((SHIPPED_DIR / "card.json").read_text())
    assert card["cv"]["group_by"] == "trace" and "per_category" in card["cv"]["balanced"]
    rows = base_set.load_rows()[::97]
    scores = gate.score_batch([(list(r.obs), r.task) for r in rows])
    assert len(scores) == len(rows) and all(0.0 < s < 1.0 for s in scores)
    assert gate.score(list(rows[0].obs), rows[0].task) == pytest.approx(scores[0], abs=1e-6)
    assert gate.describe()["encoder"] == "onnx"  # onnxruntime is a dependency: the fast runtime is the default


def test_thresholds_are_monotonic_in_the_level(gate: RewardGate) -> None:
    values = [threshold_for(gate, level) for level in range(1, 6)]
    assert values == sorted(values, reverse=True)
    assert values[0] > values[-1]
    with pytest.raises(ValueError):
        threshold_for(gate, 6)


def test_relevant_help_beats_an_unrelated_offer(gate: RewardGate) -> None:
    relevant = gate.score(ERROR_OBS, "Install the missing PyYAML package with pip install pyyaml")
    unrelated = gate.score(ERROR_OBS, "Suggest a playlist of relaxing music for the evening")
    assert relevant > unrelated


def test_fits_its_training_data_far_better_than_chance(gate: RewardGate) -> None:
    """Not a generalisation claim (the CV figures in the card are): the heads learnt the data."""
    card = json.loads((SHIPPED_DIR / "card.json").read_text())
    rows = base_set.load_rows()[::7]
    scores = gate.score_batch([(list(r.obs), r.task) for r in rows])
    t = gate.thresholds()[3]
    right = [(s >= (gate.silence_threshold if r.task is None else t)) == r.valid for s, r in zip(scores, rows)]
    assert np.mean(right) > 0.7
    assert card["train_fit"]["accuracy"] > 0.7


def test_the_gates_encoder_matches_the_transformers_embeddings(gate: RewardGate) -> None:
    shipped = base_set.load_embeddings()  # computed with transformers' BertModel (float16)
    texts = list(shipped)[::150]
    mine = gate.encoder.embed(texts)
    for text, vector in zip(texts, mine):
        assert np.abs(vector - shipped[text]).max() < 2e-3
        assert float(vector @ shipped[text]) > 0.9999


def test_factory_builds_each_kind() -> None:
    config = Config()
    assert isinstance(load_gate(config), RewardGate)
    config.gate.kind = "ollama"
    with pytest.raises(GateUnavailable, match="gate.model"):
        load_gate(config)
    config.gate.model = "judge"
    with socket.socket() as probe:  # a port nobody listens on: Ollama is "down"
        probe.bind(("127.0.0.1", 0))
        config.gate.ollama_host = f"http://127.0.0.1:{probe.getsockname()[1]}"
    ollama_gate = load_gate(config)
    assert isinstance(ollama_gate, OllamaGate)
    task = "Install the missing PyYAML package"
    assert ollama_gate.score(ERROR_OBS, task) == pytest.approx(RewardGate().score(ERROR_OBS, task))
    assert ollama_gate.fallbacks == 1
    assert "icl" in KINDS  # built by IclGate, which loads the agent's model: tests/personal/test_icl_gate.py
    config.gate.kind = "nonsense"
    with pytest.raises(GateUnavailable, match="unknown gate.kind"):
        load_gate(config)


def test_prepare_embeds_the_history_before_the_score(gate: RewardGate) -> None:
    history = [{"time": "1", "event": f"The user edits module_{n}.py and runs pytest, which fails."} for n in range(3)]
    gate.prepare(history).join(timeout=30)
    assert all(o["event"] in gate.encoder._cache for o in history)
    assert 0.0 <= gate.score(history, "Explain the failing test") <= 1.0
