"""A LoRA adapter converted for llama.cpp changes llama.cpp's next-token logits the way it changes
transformers' (the q_proj rows must follow llama.cpp's rotary layout, or the change is mostly noise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from companion.config import Config

PROMPT = [{"role": "user", "content": "The user ran pytest; 2 tests failed with NameError: name 'nme' is not defined."}]


@pytest.mark.slow
@pytest.mark.usefixtures("needs_llama_cpp")
def test_the_gguf_lora_moves_llama_cpp_like_the_adapter_moves_transformers(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from companion.agent import smollm
    from companion.agent.backends import load_backend

    torch.manual_seed(0)
    model, tokenizer = smollm.load()
    text = tokenizer.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        base = model(torch.tensor([ids])).logits[0, -1].numpy()
    lora = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj"],
                                            init_lora_weights=False))
    for name, parameter in lora.named_parameters():
        if "lora_B" in name:
            parameter.data *= 0.3
    with torch.no_grad():
        tuned = lora(torch.tensor([ids])).logits[0, -1].numpy()
    folder = tmp_path / "adapter"
    lora.save_pretrained(folder)
    monkeypatch.setenv("COMPANION_MODELS_DIR", str(tmp_path / "models"))  # the converted GGUF LoRA is cached here

    def llama_logits(adapter: str) -> tuple[object, np.ndarray]:
        config = Config()
        config.agent.adapter = adapter
        config.agent.threads = 1
        backend = load_backend(config)
        assert backend.name == "llama_cpp"
        backend.llm.reset()
        backend.llm.eval(ids)  # only the last token's logits are computed (logits_all is off)
        logits = np.ctypeslib.as_array(backend.llm._ctx.get_logits(), shape=(backend.llm.n_vocab(),)).copy()
        backend.close()
        return backend, logits

    plain, llama_base = llama_logits("none")
    adapted, llama_tuned = llama_logits(str(folder))
    assert adapted.adapter == folder and adapted.model_name.endswith("+adapter") and "+" not in plain.model_name
    assert any((tmp_path / "models" / "agent" / "gguf").glob("*.gguf"))
    correlation = np.corrcoef(tuned - base, llama_tuned - llama_base)[0, 1]
    assert correlation > 0.5, correlation  # 0.77 here; 0.24 without llama.cpp's row order of q (v_proj alone: 0.93)
