"""Which LoRA adapter the agent uses: the user's active one, else the shipped default, else none.

`companion train agent` writes each adapter to its own folder under models_dir()/agent/ and
activates it only when it is not worse than what was active; `active.json` keeps the history,
so `companion train agent --rollback` returns to the previous one (or to the shipped default).
The agent backends ask `for_agent(config.agent.adapter)` at load time ("" = active_adapter(),
"none" = the untuned model, or a folder): transformers merges the adapter, llama.cpp loads one
Q8_0 file with the adapter folded in (`runnable_model`, from its GGUF LoRA `gguf_for`), and the
agent then prompts the way the adapter was trained (`prompt_settings`: no few-shot turns, the
run's observation budget).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from companion import paths

SHIPPED = Path(__file__).resolve().parent / "adapter"
AGENT_OBSERVATION_TOKENS = 160  # the observation budget of fine-tuning runs: sequences stay short on a CPU


def agent_dir() -> Path:
    path = paths.models_dir() / "agent"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _registry_file() -> Path:
    return agent_dir() / "active.json"


def _read() -> dict[str, Any]:
    path = _registry_file()
    if not path.is_file():
        return {"history": []}
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data.get("history"), list) else {"history": []}
    except (OSError, ValueError):
        return {"history": []}


def _write(data: dict[str, Any]) -> None:
    tmp = _registry_file().with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, _registry_file())


def is_adapter(folder: Path) -> bool:
    return (folder / "adapter_config.json").is_file() and any(folder.glob("adapter_model.*"))


def shipped_adapter() -> Path | None:
    """The default adapter packaged with companion, when one was good enough to ship."""
    return SHIPPED if is_adapter(SHIPPED) else None


def active_adapter() -> Path | None:
    """The adapter the agent should load: the user's active one, else the shipped default."""
    history = _read()["history"]
    if history:
        current = history[-1].get("adapter")
        if current is None:
            return None  # the user chose the untuned model
        if is_adapter(Path(current)):
            return Path(current)
    return shipped_adapter()


UNTUNED = "none"  # the `[agent] adapter` setting that asks for the model without any adapter


def for_agent(setting: str = "") -> Path | None:
    """The adapter the `[agent] adapter` setting names: "" = active_adapter(), "none" = no adapter,
    anything else an adapter folder (ValueError when it is not one)."""
    if not setting:
        return active_adapter()
    if setting.strip().lower() == UNTUNED:
        return None
    folder = Path(setting).expanduser()
    if not is_adapter(folder):
        raise ValueError(f"[agent] adapter = {setting!r} is not a LoRA adapter folder (adapter_config.json and "
                         f"adapter_model.*); use \"\" for the active one or \"{UNTUNED}\" for the untuned model")
    return folder


def prompt_settings(folder: Path) -> dict[str, Any]:
    """The agent prompt an adapter was trained on, which the agent must then use: no few-shot turns
    (training/dataset.chat_example) and the observation budget of its training run."""
    tokens = AGENT_OBSERVATION_TOKENS
    try:
        config = json.loads((folder / "training.json").read_text()).get("config", {})
        tokens = int(config.get("observation_tokens") or tokens)
    except (OSError, ValueError, AttributeError, TypeError):
        pass  # an adapter trained elsewhere: the defaults training/dataset.py uses
    return {"few_shot": False, "max_observation_tokens": tokens}


GGUF_NAME = "adapter.gguf"  # the adapter converted for llama.cpp, shipped or cached next to it


def _weights_digest(folder: Path) -> str:
    import hashlib

    return hashlib.sha256((folder / "adapter_model.safetensors").read_bytes()).hexdigest()


def write_gguf(folder: Path, model_gguf: Path, out: Path) -> Path:
    """Convert the adapter for llama.cpp into `out`, with a note of the weights it was made from."""
    from companion.agent.adapter_gguf import convert

    convert(folder, out, model_gguf)
    out.with_name(out.name + ".json").write_text(json.dumps({"source_sha256": _weights_digest(folder), "base": model_gguf.name}))
    return out


def gguf_for(folder: Path, model_gguf: Path) -> Path:
    """The adapter as a GGUF LoRA for llama.cpp: the one shipped in the folder when it was made from
    these weights, else one converted once into models_dir()/agent/gguf/ (keyed by the weights)."""
    digest = _weights_digest(folder)
    cached = agent_dir() / "gguf" / f"{digest[:16]}.gguf"
    for candidate in (folder / GGUF_NAME, cached):
        try:
            if json.loads(candidate.with_name(candidate.name + ".json").read_text()).get("source_sha256") == digest:
                return candidate
        except (OSError, ValueError, AttributeError):
            continue
    return write_gguf(folder, model_gguf, cached)


def runnable_model(folder: Path | None, model_gguf: Path) -> Path:
    """What llama.cpp loads for this model and adapter (None: the model alone): one Q8_0 file with
    the adapter folded into its weights (companion/agent/gguf_merge.py: faster than the packaged
    Q4_1 with a LoRA applied at run time), built once into models_dir()/agent/gguf/."""
    from companion.agent.gguf_merge import fast_model

    lora = gguf_for(folder, model_gguf) if folder is not None else None
    return fast_model(model_gguf, lora, agent_dir() / "gguf")


def activate(folder: Path | None, metrics: dict[str, Any] | None = None) -> None:
    """Make `folder` (None = no adapter) the active one, remembering what was active before."""
    data = _read()
    data["history"].append({"adapter": str(folder) if folder else None, "ts": time.time(), "metrics": metrics or {}})
    _write(data)


def rollback() -> Path | None:
    """Return to the adapter active before the last activation; raises LookupError if none."""
    data = _read()
    if not data["history"]:
        raise LookupError("no trained adapter was ever activated; nothing to roll back")
    data["history"].pop()
    _write(data)
    return active_adapter()


def history() -> list[dict[str, Any]]:
    return _read()["history"]
