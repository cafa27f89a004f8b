"""The default adapter ships only when `companion eval agent` shows it beats the untuned model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion.models import smollm2_gguf
from companion.agent.adapters import gguf_for
from training.ship_adapter import ship, verdict


def scores(f1: float, false_alarm: float, recall: float, well_formed: float, events: int = 24) -> dict:
    return {"F1": f1, "False-Alarm": false_alarm, "Recall": recall, "Precision": 0.5, "Accuracy": 0.5,
            "well_formed_json": well_formed, "events": events, "traces": 3, "max_steps": 8, "steps": [{"big": 1}]}


def test_the_ship_rule() -> None:
    untuned = scores(0.0, 0.0, 0.0, 0.9)
    assert verdict(untuned, scores(0.3, 0.5, 0.4, 1.0)) == (True, [])
    assert not verdict(untuned, scores(0.0, 0.0, 0.0, 1.0))[0]  # F1 must rise
    assert not verdict(untuned, scores(0.3, 0.5, 0.4, 0.8))[0]  # JSON must not get worse
    assert not verdict(scores(0.2, 0.2, 0.5, 1.0), scores(0.3, 0.6, 0.5, 1.0))[0]  # alarms up, recall flat
    assert not verdict(untuned, scores(0.3, 0.5, 0.4, 1.0, events=52))[0]  # not the same replay


def test_ship_copies_the_adapter_with_its_card_or_refuses(tmp_path: Path) -> None:
    run = tmp_path / "run" / "adapter"
    run.mkdir(parents=True)
    (run / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/tmp/local/model", "r": 8}))
    import numpy as np
    from safetensors.numpy import save_file

    prefix = "base_model.model.model.layers.3.self_attn"
    save_file({f"{prefix}.q_proj.lora_A.weight": np.ones((8, 576), np.float32),
               f"{prefix}.q_proj.lora_B.weight": np.ones((576, 8), np.float32),
               f"{prefix}.v_proj.lora_A.weight": np.ones((8, 576), np.float32),
               f"{prefix}.v_proj.lora_B.weight": np.ones((192, 8), np.float32)}, str(run / "adapter_model.safetensors"))
    (run / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/tmp/local/model", "r": 8,
                                                         "lora_alpha": 16}))
    (run / "training.json").write_text(json.dumps({"config": {"steps": 120}, "metrics": {"wall_s": 1.0, "losses": [2.0, 1.0]}}))
    dest = tmp_path / "shipped"
    with pytest.raises(ValueError, match="F1 not higher"):
        ship(run.parent, scores(0.2, 0.0, 0.1, 1.0), scores(0.1, 0.0, 0.1, 1.0), dest=dest)
    assert not dest.exists()
    card = ship(run.parent, scores(0.0, 0.0, 0.0, 0.5), scores(0.3, 0.5, 0.4, 1.0), ["python -m x"], dest=dest)
    assert (dest / "adapter_model.safetensors").read_bytes() == (run / "adapter_model.safetensors").read_bytes()
    assert gguf_for(dest, smollm2_gguf()) == dest / "adapter.gguf"  # shipped ready for llama.cpp, no conversion
    import gguf

    names = {t.name for t in gguf.GGUFReader(str(dest / "adapter.gguf")).tensors}
    assert names == {f"blk.3.attn_{m}.weight.lora_{ab}" for m in "qv" for ab in "ab"}
    assert json.loads((dest / "adapter_config.json").read_text())["base_model_name_or_path"].startswith("HuggingFaceTB/")
    saved = json.loads((dest / "card.json").read_text())
    assert saved == card and saved["config"] == {"steps": 120} and saved["rebuild"] == ["python -m x"]
    assert saved["eval_agent"]["tuned"]["F1"] == 0.3 and "steps" not in saved["eval_agent"]["tuned"]
