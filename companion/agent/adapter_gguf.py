"""A peft LoRA adapter of SmolLM2 as a GGUF LoRA file, so llama.cpp (the default agent backend) can run it.

Why: a LoRA GGUF is about the size of the adapter (the shipped one carries it, 1.8 MB), and it is
the input of companion/agent/gguf_merge.py, which folds it into a Q8_0 copy of the packaged model
(what the default backend loads); llama.cpp can also apply it at load time (`Llama(lora_path=...)`,
as tests/agent/test_gguf_merge.py does to check the merge).

The layout follows llama.cpp's convert_lora_to_gguf.py: general.type "adapter", adapter.type
"lora", adapter.lora.alpha, and per adapted weight two tensors `<gguf name>.lora_a` ([r, in]) and
`.lora_b` ([out, r]). llama.cpp stores the attention's q and k weights with their rows permuted
(the rotary layout of its converter; transformers undoes it when it reads the GGUF), so lora_b of
q_proj/k_proj gets the same row permutation; lora_a (input side) and v/o/MLP weights do not.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

GGUF_NAMES = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
              "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}


def permute_rows(weight: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's q/k row order (convert_hf_to_gguf.LlamaModel.permute) for a matrix of output rows."""
    rows = weight.shape[0]
    return (weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape))


def head_counts(model_gguf: Path) -> tuple[int, int]:
    """(attention heads, key/value heads) from the base GGUF's metadata."""
    import gguf

    reader = gguf.GGUFReader(str(model_gguf))
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()

    def number(key: str) -> int:
        return int(reader.fields[f"{arch}.{key}"].parts[-1][0])

    return number("attention.head_count"), number("attention.head_count_kv")


def convert(adapter: Path, out: Path, model_gguf: Path) -> Path:
    """Write `adapter` (a peft folder) as a GGUF LoRA at `out` for the base model `model_gguf`."""
    import gguf
    from safetensors.numpy import load_file

    config = json.loads((adapter / "adapter_config.json").read_text())
    heads, kv_heads = head_counts(model_gguf)
    tensors = load_file(str(adapter / "adapter_model.safetensors"))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), "llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(config["lora_alpha"]))
    written = 0
    for name in sorted(tensors):
        # base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight
        parts = name.split(".")
        if "layers" not in parts or parts[-2] not in ("lora_A", "lora_B"):
            raise ValueError(f"{adapter}: unexpected tensor {name}")
        layer = int(parts[parts.index("layers") + 1])
        module = parts[-3]
        if module not in GGUF_NAMES:
            raise ValueError(f"{adapter}: no llama.cpp name for {module}")
        value = tensors[name].astype(np.float32)
        if parts[-2] == "lora_B" and module in ("q_proj", "k_proj"):
            value = permute_rows(value, heads if module == "q_proj" else kv_heads)
        writer.add_tensor(f"blk.{layer}.{GGUF_NAMES[module]}.weight.lora_{parts[-2][-1].lower()}", value)
        written += 1
    if not written:
        raise ValueError(f"{adapter}: no LoRA tensors")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return out
