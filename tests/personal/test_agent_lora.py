"""Agent LoRA fine-tuning on a tiny slice: the adapter changes, the loss falls, checkpoints
resume, too little data is refused with the number needed, activation and rollback work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli


def _lora_b_norm(folder: Path) -> float:
    from safetensors.torch import load_file

    weights = load_file(str(folder / "adapter_model.safetensors"))
    return sum(float(t.norm()) for name, t in weights.items() if "lora_B" in name)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_few_steps_change_the_adapter_lower_the_loss_and_resume(private_models: Path, tmp_path: Path) -> None:
    from companion.agent import adapters
    from training.agent_lora import AgentLoraConfig, main

    # one short example seen at every step: the loss on it must fall
    cfg = AgentLoraConfig(base_only=True, base_examples=1, eval_examples=1, generate_eval=0, steps=2,
                          batch_size=1, lr=5e-3, warmup=1, checkpoint_every=1, observation_tokens=24,
                          out=str(tmp_path / "run"))
    metrics = main(cfg)
    losses = metrics["losses"]
    assert len(losses) == 2 and losses[-1] < losses[0]
    adapter = Path(metrics["adapter"])
    assert _lora_b_norm(adapter) > 0  # LoRA B starts at zero: any change is training
    state = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 2 and state["config"]["r"] == 8 and len(state["metrics"]["losses"]) == 2
    assert metrics["steps_per_s"] > 0 and metrics["device"] in ("cpu", "cuda")

    # activation follows the held-out comparison; the registry says which adapter is live
    assert metrics["activated"] == metrics["not_worse"]
    assert (adapters.active_adapter() == adapter) == metrics["activated"]

    # asking for more steps resumes from the checkpoint instead of starting again
    cfg.steps = 3
    resumed = main(cfg)
    assert resumed["steps_run"] == 1 and len(resumed["losses"]) == 3 and resumed["losses"][:2] == losses


def test_activation_and_rollback(private_models: Path, tmp_path: Path) -> None:
    from companion.agent import adapters

    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
        (folder / "adapter_config.json").write_text("{}")
        (folder / "adapter_model.safetensors").write_bytes(b"x")
    assert adapters.active_adapter() == adapters.shipped_adapter()
    adapters.activate(first)
    adapters.activate(second)
    assert adapters.active_adapter() == second
    assert adapters.rollback() == first
    assert adapters.rollback() == adapters.shipped_adapter()
    with pytest.raises(LookupError):
        adapters.rollback()
    result = run_cli("train", "agent", "--rollback")
    assert result.returncode == 2 and "nothing to roll back" in result.stderr


def test_too_few_accepted_proposals_says_how_many_are_needed(private_models: Path) -> None:
    result = run_cli("train", "agent")
    assert result.returncode == 2
    assert "needs at least 10 accepted proposals; you have 0: accept 10 more" in result.stderr
