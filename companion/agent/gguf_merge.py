"""The packaged GGUF, with the agent's LoRA adapter folded into its weights, re-written in Q8_0:
the file the default llama.cpp backend loads.

Why: llama.cpp applies a GGUF LoRA at run time as two extra small matrix products per adapted
weight and token, and the packaged SmolLM2 GGUF is Q4_1, whose CPU kernels are slower than
Q8_0's. Measured on the 2-core build machine (AVX-512), 64 tokens generated after the ~930-token
agent prompt, 2 threads, median of 5, two rounds (`benchmarks/bench_agent_backend.py` repeats it):

| file | prompt tok/s | generated tok/s |
|---|---|---|
| Q4_1 + the shipped LoRA at run time (before) | 253–268 | 73–82 |
| Q4_1, LoRA merged, merged weights in float32 | 271–315 | 78–84 |
| Q4_1, LoRA merged, merged weights in Q8_0 | 302–312 | 90–95 |
| **all weights Q8_0, LoRA merged (this module)** | **456–464** | **95–99** |

Q8_0 keeps the Q4_1 weights almost exactly (a 4-bit grid re-written on an 8-bit one). Re-writing
them in a 4-bit type instead (IQ4_NL, Q4_0; 93–100 tok/s) broke the 135M model: 4 % and 2 % of
its replies on the agent traces were well-formed JSON, against 58 % before. On
`companion eval agent --traces ../shared/data/proactivebench/traces` this file and the exact
float32 merge answer alike (F1 0.48 both, well-formed 65 and 62 %; the run-time LoRA 0.56 and
58 %): greedy decoding of a 135M model diverges on any rounding, so replies differ in wording
between any two of these files, not in kind.

How: every weight the adapter touches becomes W + (alpha / r) · B·A in float32 (the base weight
dequantised by gguf-py), and every 2-D weight is written in Q8_0 (gguf-py's quantiser, the same
scheme as llama.cpp's: one float16 scale per 32 weights); Q8_0 and float tensors are copied as
they are. The file is cached under models_dir()/agent/gguf/, keyed by the model file (its path,
size and modification time: a stat, where hashing its 98 MB cost every daemon start 0.1 s) and the
adapter's digest (1.8 MB): built once (about 5 s), reused by every later load.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from companion import paths

FAST_TYPE = "Q8_0"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lora_deltas(lora_gguf: Path) -> dict[str, np.ndarray]:
    """{base tensor name: (alpha / r) · B·A} from a GGUF LoRA (llama.cpp's adapter layout)."""
    import gguf

    reader = gguf.GGUFReader(str(lora_gguf))
    if "adapter.lora.alpha" not in reader.fields:
        raise ValueError(f"{lora_gguf} is not a GGUF LoRA adapter (no adapter.lora.alpha)")
    alpha = float(reader.fields["adapter.lora.alpha"].contents())
    halves: dict[str, dict[str, np.ndarray]] = {}
    for tensor in reader.tensors:
        base, _, half = tensor.name.rpartition(".lora_")
        if half not in ("a", "b"):
            raise ValueError(f"{lora_gguf}: unexpected tensor {tensor.name}")
        halves.setdefault(base, {})[half] = np.asarray(tensor.data, dtype=np.float32)
    deltas = {}
    for name, pair in halves.items():
        if set(pair) != {"a", "b"}:
            raise ValueError(f"{lora_gguf}: {name} lacks lora_a or lora_b")
        rank = pair["a"].shape[0]
        deltas[name] = (alpha / rank) * (pair["b"] @ pair["a"])  # (out, r)·(r, in) = the weight's (out, in)
    return deltas


def write_fast(model_gguf: Path, lora_gguf: Path | None, out: Path) -> None:
    """`model_gguf` with the LoRA (if any) folded in and its 2-D weights in Q8_0, written to `out`."""
    import gguf
    from gguf.quants import dequantize, quantize

    deltas = lora_deltas(lora_gguf) if lora_gguf is not None else {}
    target = gguf.GGMLQuantizationType[FAST_TYPE]
    kept = {target, gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.BF16}
    reader = gguf.GGUFReader(str(model_gguf))
    writer = gguf.GGUFWriter(str(out), str(reader.fields["general.architecture"].contents()))
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in ("general.architecture", "general.file_type"):
            continue
        array = field.types[0] == gguf.GGUFValueType.ARRAY
        writer.add_key_value(field.name, field.contents(), field.types[0], sub_type=field.types[-1] if array else None)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    for tensor in reader.tensors:
        delta = deltas.pop(tensor.name, None)
        if delta is None and (tensor.tensor_type in kept or len(tensor.shape) < 2):
            writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
            continue
        weight = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        if delta is not None:
            if weight.shape != delta.shape:
                raise ValueError(f"{lora_gguf}: {tensor.name} is {weight.shape} in the model, {delta.shape} in the adapter")
            weight += delta
        writer.add_tensor(tensor.name, quantize(weight, target), raw_dtype=target)
    if deltas:
        raise ValueError(f"{lora_gguf} adapts tensors the model does not have: {', '.join(sorted(deltas)[:3])}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def fast_model(model_gguf: Path, lora_gguf: Path | None, cache: Path) -> Path:
    """The Q8_0 file for this model and adapter (None: the model alone), built into `cache` once."""
    model = model_gguf.stat()
    adapter = file_digest(lora_gguf) if lora_gguf is not None else "-"
    sources = f"{model_gguf.resolve()} {model.st_size} {model.st_mtime_ns} {adapter} {FAST_TYPE}"
    key = hashlib.sha256(sources.encode()).hexdigest()[:16]
    out = cache / f"{model_gguf.stem}-{key}.{FAST_TYPE}.gguf"
    note = out.with_name(out.name + ".json")
    if out.is_file() and note.is_file():
        return out
    paths.private_dir(cache)
    partial = paths.private_file(out.with_name(f"{out.name}.{os.getpid()}.tmp"))  # two processes may build it at once
    try:
        write_fast(model_gguf, lora_gguf, partial)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    paths.private_file(note).write_text(json.dumps({"model": str(model_gguf), "adapter": str(lora_gguf) if lora_gguf else None,
                                                    "type": FAST_TYPE}))
    return out
