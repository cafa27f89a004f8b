"""The in-context judge: its hand-written cached forward equals transformers' own, it follows
the user's answers, implements the Gate contract, and SVD plans prune and reload."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from companion.store import Store
from tests.personal.conftest import fill_store

ANSWERS = [
    ("pytest -x", "Fix the failing import in api.py", "accepted"),
    ("git status", "Write a commit message", "rejected"),
    ("python -m app", "Install the missing package", "accepted"),
    ("ls", "Explain the ls flags", "rejected"),
]


@pytest.fixture(scope="module")
def model_and_tokenizer():
    from companion.agent.smollm import load

    return load()


@pytest.mark.slow
def test_cached_prefix_forward_equals_transformers(model_and_tokenizer) -> None:
    from companion.gate.icl_gate import Demo, prompt_prefix, question
    from companion.gate.icl_forward import PrefixScorer

    model, tokenizer = model_and_tokenizer
    scorer = PrefixScorer(model, tokenizer)
    prefix = prompt_prefix([Demo.make([{"time": "", "event": "The user ran `pytest`; it failed."}], "Fix the test", True)])
    questions = [question([{"time": "", "event": "The user saved `a.py`."}], "Explain a.py"),
                 question([{"time": "", "event": "The user ran `ls`."}], None)]
    ours = scorer.score(scorer.prefix_keys(prefix), questions)
    for text, margin in zip(questions, ours):
        ids = tokenizer.encode(prefix, add_special_tokens=False) + tokenizer.encode(text, add_special_tokens=False)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1]
        expected = float(logits[scorer.label_ids[0]] - logits[scorer.label_ids[1]])
        assert margin == pytest.approx(expected, abs=1e-3)


@pytest.mark.slow
def test_low_rank_keeps_the_asked_rank(model_and_tokenizer) -> None:
    from companion.gate.icl_forward import low_rank

    weight = model_and_tokenizer[0].model.layers[29].mlp.down_proj.weight.detach()
    pruned = low_rank(weight, 0.1)
    assert torch.linalg.matrix_rank(pruned) <= round(0.1 * min(weight.shape))
    assert torch.equal(low_rank(weight, 1.0), weight)


@pytest.mark.slow
def test_icl_gate_uses_the_users_answers_and_meets_the_gate_contract(private_models: Path, workspace: Path) -> None:
    from companion.gate.icl_gate import IclGate

    with Store() as store:
        fill_store(store, str(workspace), ANSWERS)
        gate = IclGate(store=store, workspace=workspace, config=None, shots=4)  # as load_gate calls it
        assert gate.source == "user" and len(gate.judge.demos) == 4
        assert {d.accepted for d in gate.judge.demos} == {True, False}
        observations = [{"time": "2026-01-01 10:00:00", "event": "The user ran `pytest`; it failed (exit 1)."}]
        scores = gate.score_batch([(observations, "Fix the failing test"), (observations, None)])
        assert len(scores) == 2 and all(0.0 < s < 1.0 for s in scores)
        assert gate.score(observations, "Fix the failing test") == pytest.approx(scores[0], abs=1e-5)
        assert gate.score_batch([]) == []
    levels = gate.thresholds()
    assert [levels[level] for level in range(1, 6)] == sorted(levels.values(), reverse=True)


@pytest.mark.slow
def test_icl_gate_without_user_answers_uses_proactivebench(private_models: Path, workspace: Path) -> None:
    from companion.gate.icl_gate import IclGate

    with Store() as store:
        gate = IclGate(workspace=str(workspace), store=store, shots=2)
    assert gate.source == "proactivebench" and len(gate.judge.demos) == 2


def test_packaged_demonstrations_when_proactivebench_is_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from companion.gate.icl_gate import balanced_demos, proactivebench_rows

    monkeypatch.setenv("COMPANION_PROACTIVEBENCH", str(tmp_path))  # a folder without the data
    assert proactivebench_rows() == []
    rows = proactivebench_rows(packaged=True)
    assert len(rows) == 16 and len({r["category"] for r in rows}) == 4
    demos = balanced_demos(rows, 8)
    assert len(demos) == 8 and sum(d.accepted for d in demos) == 4


def test_user_demonstrations_mix_both_answers_newest_first() -> None:
    from companion.gate.icl_gate import recent_user_demos

    rows = [{"obs": [{"time": "", "event": f"e{i}"}], "pred_task": f"t{i}", "valid": i % 3 == 0} for i in range(12)]
    demos = recent_user_demos(rows, 6)
    assert len(demos) == 6 and sum(d.accepted for d in demos) == 3
    assert {d.task for d in demos} == {"t3", "t6", "t9", "t8", "t10", "t11"}
