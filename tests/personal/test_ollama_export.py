"""`companion export ollama`: the adapter is merged, the folder holds safetensors, the tokenizer and
a Modelfile whose TEMPLATE renders exactly like the tokenizer's chat template, and the merged
weights reloaded with transformers answer greedily exactly like base+adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import run_cli


def _random_adapter(folder: Path) -> Path:
    """A LoRA adapter with non-zero weights (as after training), made without training time."""
    from peft import LoraConfig, get_peft_model

    from companion.agent.smollm import load

    model, _ = load()
    torch.manual_seed(0)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                      task_type="CAUSAL_LM")
    get_peft_model(model, lora).save_pretrained(folder)
    return folder


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_export_merges_and_writes_a_matching_modelfile(private_models: Path, tmp_path: Path) -> None:
    from companion.agent.prompt import SYSTEM_RULES, build_messages
    from companion.agent.smollm import load
    from companion.agent import adapters
    from training.ollama_export import STOP, read_modelfile, render_template

    adapter = _random_adapter(tmp_path / "adapter")
    adapters.activate(adapter)
    out = tmp_path / "ollama"
    result = run_cli("export", "ollama", "--out", str(out), "--json", timeout=900)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["adapter"] == str(adapter) and report["template_ok"] and report["greedy_equal"]
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()

    modelfile = read_modelfile(out / "Modelfile")
    assert modelfile["from"] == "."
    assert modelfile["system"] == SYSTEM_RULES
    assert [value.strip('"') for name, value in modelfile["parameters"] if name == "stop"] == list(STOP)
    _, tokenizer = load()
    messages = build_messages([{"time": "2026-01-01 10:00:00", "event": "The user ran `make`; it failed."}])
    expected = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    rendered = render_template(modelfile["template"], messages[1:], modelfile["system"])
    assert rendered == expected

    # the merged folder really carries the adapter: its weights differ from the base model's
    from safetensors.torch import load_file

    merged = load_file(str(out / "model.safetensors"))
    base, _ = load()
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.allclose(merged[name], base.state_dict()[name])


def test_a_wrong_template_is_detected(private_models: Path) -> None:
    from transformers import AutoTokenizer

    from companion.agent.smollm import ensure_converted
    from training.ollama_export import TEMPLATE, template_matches

    tokenizer = AutoTokenizer.from_pretrained(str(ensure_converted()))
    assert template_matches(tokenizer, TEMPLATE, "rules")
    assert not template_matches(tokenizer, TEMPLATE.replace("<|im_end|>\n{{ end }}", "<|im_end|>{{ end }}"), "rules")
