"""The SVD pruning search: a tiny budget still returns a plan that reloads and that the icl gate
applies at load time; too little user data is refused with the number needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import run_cli


@pytest.mark.slow
def test_tiny_search_returns_a_plan_the_gate_applies(private_models: Path, workspace: Path) -> None:
    from companion.gate.icl_gate import IclGate, plan_file
    from companion.gate.icl_forward import PlanStep, load_plan
    from companion.store import Store
    from training.svd_icl import SvdConfig, search

    cfg = SvdConfig(demos="proactivebench", shots=2, per_category=1, layers=(29,), modules=("mlp",),
                    ratios=(1.0, 0.01), budget_s=1.0)
    report = search(cfg)
    assert report["tried"] == 1 and len(report["table"]) == 2
    assert report["validation"] == 4 and report["test"] == 4  # one per ProactiveBench category
    assert Path(report["plan_file"]) == plan_file()
    steps = load_plan(plan_file())
    assert steps == ([PlanStep(29, "mlp", 0.01)] if report["improved"] else [])

    # whatever the search chose, a plan file makes the gate prune at load time
    from companion.gate.icl_forward import save_plan

    save_plan(plan_file(), [PlanStep(29, "mlp", 0.01)])
    with Store() as store:
        gate = IclGate(workspace=str(workspace), store=store, shots=2)
    assert gate.plan == [PlanStep(29, "mlp", 0.01)]
    pruned = gate.judge.scorer.model.model.layers[29].mlp.up_proj.weight
    assert torch.linalg.matrix_rank(pruned) <= round(0.01 * 576)


def test_bad_plan_file_is_reported(private_models: Path) -> None:
    from companion.gate.icl_gate import plan_file
    from companion.gate.icl_forward import load_plan

    plan_file().parent.mkdir(parents=True, exist_ok=True)
    plan_file().write_text(json.dumps({"steps": [{"layer": 3, "module": "ffn", "ratio": 0.5}]}))
    with pytest.raises(ValueError, match="bad plan step"):
        load_plan(plan_file())


def test_search_on_too_few_user_outcomes_says_how_many_are_needed(private_models: Path) -> None:
    result = run_cli("train", "svd", "--demos", "user", "--budget", "5")
    assert result.returncode == 2
    assert "needs at least 16 accepted and 16 rejected proposals (32 answers); you have 0 accepted and 0 rejected: " \
           "answer 32 more" in result.stderr
