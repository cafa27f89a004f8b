"""A fine-tuned adapter activated by `companion train agent` is what the agent then runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.config import Config


@pytest.mark.slow
def test_the_active_adapter_is_loaded_merged_on_transformers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import torch
    from peft import LoraConfig, get_peft_model

    from companion.agent import smollm
    from companion.agent.backends import load_backend
    from companion.agent.adapters import activate, rollback, shipped_adapter

    models = tmp_path / "models"  # activations go to a private models folder, not the shared test cache
    models.mkdir()
    os.symlink(smollm.ensure_converted(), models / smollm.MODEL_NAME)
    monkeypatch.setenv("COMPANION_MODELS_DIR", str(models))
    base, _ = smollm.load()
    reference = base.model.layers[-1].self_attn.q_proj.weight.detach().clone()
    lora = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    folder = tmp_path / "adapter"
    lora.save_pretrained(folder)
    activate(folder, {"note": "test"})

    config = Config()
    config.agent.backend = "transformers"  # (llama_cpp runs it as a GGUF LoRA: tests/agent/test_adapter_gguf.py)
    backend = load_backend(config)
    assert backend.name == "transformers" and backend.model_name.endswith("+adapter") and backend.adapter == folder
    merged = backend.model.model.layers[-1].self_attn.q_proj.weight
    assert not torch.allclose(merged, reference)  # the adapter's change is in the weights

    assert rollback() == shipped_adapter()  # back to the shipped default (None when none ships)
    config.agent.adapter = "none"  # the untuned model, whatever is active or shipped
    plain = load_backend(config, name="transformers")
    assert "+" not in plain.model_name and plain.adapter is None
    assert torch.allclose(plain.model.model.layers[-1].self_attn.q_proj.weight, reference)
