"""Export the (fine-tuned) agent as a folder `ollama create` accepts: merged safetensors, the
tokenizer, and a Modelfile.

Why: users with Ollama (and a GPU) can run the personalised agent there, through the `ollama`
agent backend, instead of in-process. The LoRA adapter is merged into the weights (Ollama
imports plain Llama safetensors), and the Modelfile carries what Ollama cannot guess: the
ChatML template SmolLM2 was trained with, the stop tokens, and the agent's system rules.

Two checks run before the export is reported done: the Modelfile's TEMPLATE, interpreted, gives
exactly the text of the tokenizer's own chat template; and the merged weights, reloaded with
transformers, give the same greedy output as base+adapter on a few agent prompts.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from companion import paths
from companion.agent import adapters

# ChatML as Ollama's Go template: every message (the SYSTEM below becomes the first one), then
# the assistant's turn is opened, as `apply_chat_template(..., add_generation_prompt=True)` does.
TEMPLATE = ("{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
            "<|im_start|>assistant\n")
STOP = ("<|im_end|>", "<|im_start|>", "<|endoftext|>")
PROBE_OBSERVATIONS = (
    [{"time": "2026-03-02 10:14:20", "event": "The user ran `pytest -x` in `.`; it failed (exit 1) after 2.1 s: "
                                              "ImportError: cannot import name 'Client' from 'api'."}],
    [{"time": "2026-03-02 11:03:05", "event": "The user ran `git commit -m 'Update readme'` in `.`; it succeeded."}],
    [{"time": "2026-03-02 12:00:00", "event": "The user saved `app/db.py` (42 lines, 3 changed)."},
     {"time": "2026-03-02 12:00:09", "event": "Merge conflict in `app/db.py` after `git merge feature`."}],
)


@dataclass
class ExportResult:
    out: Path
    adapter: Path | None
    template_ok: bool
    greedy_equal: bool
    probes: int

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "adapter": str(self.adapter) if self.adapter else None,
                "template_ok": self.template_ok, "greedy_equal": self.greedy_equal, "probes": self.probes,
                "modelfile": str(self.out / "Modelfile"),
                "create": f"ollama create companion-agent -f {self.out / 'Modelfile'}"}


def _quoted(text: str) -> str:
    if '"""' in text:
        raise ValueError("the system prompt may not contain triple quotes (Modelfile syntax)")
    return f'"""{text}"""'


def modelfile(system: str, template: str = TEMPLATE, temperature: float = 0.0, num_ctx: int = 4096) -> str:
    lines = ["# Written by `companion export ollama`; create the model with:",
             "#   ollama create companion-agent -f Modelfile",
             "FROM .", f"TEMPLATE {_quoted(template)}", f"SYSTEM {_quoted(system)}"]
    lines += [f'PARAMETER stop "{token}"' for token in STOP]
    lines += [f"PARAMETER temperature {temperature}", f"PARAMETER num_ctx {num_ctx}"]
    return "\n".join(lines) + "\n"


def read_modelfile(path: Path) -> dict[str, Any]:
    """FROM, TEMPLATE, SYSTEM and PARAMETERs of a Modelfile (the subset written here)."""
    text = path.read_text()
    result: dict[str, Any] = {"parameters": []}
    for key in ("TEMPLATE", "SYSTEM"):
        match = re.search(rf'^{key} """(.*?)"""', text, re.S | re.M)
        result[key.lower()] = match.group(1) if match else None
    match = re.search(r"^FROM (.+)$", text, re.M)
    result["from"] = match.group(1).strip() if match else None
    result["parameters"] = re.findall(r"^PARAMETER (\S+) (.+)$", text, re.M)
    return result


def render_template(template: str, messages: Sequence[dict[str, str]], system: str | None = None) -> str:
    """Interpret the Go-template subset used here ({{- range .Messages }} … {{ end }} with .Role
    and .Content) the way Ollama does, the SYSTEM prompt becoming the first message."""
    match = re.fullmatch(r"\{\{-? range \.Messages \}\}(.*?)\{\{-? end \}\}(.*)", template, re.S)
    if not match:
        raise ValueError("unsupported template (expected one range over .Messages)")
    body, tail = match.groups()
    if system and not (messages and messages[0]["role"] == "system"):
        messages = [{"role": "system", "content": system}, *messages]
    out = []
    for message in messages:
        out.append(body.replace("{{ .Role }}", message["role"]).replace("{{ .Content }}", message["content"]))
    return "".join(out) + tail


def probe_messages() -> list[list[dict[str, str]]]:
    from companion.agent.prompt import build_messages

    return [build_messages(obs, few_shot=False) for obs in PROBE_OBSERVATIONS]


def template_matches(tokenizer: Any, template: str, system: str) -> bool:
    """The Modelfile template, with `system` as its SYSTEM, renders every probe conversation
    exactly like the tokenizer's chat template does with that system message."""
    for messages in probe_messages():
        without_system = [m for m in messages if m["role"] != "system"]
        expected = tokenizer.apply_chat_template([{"role": "system", "content": system}, *without_system],
                                                 tokenize=False, add_generation_prompt=True)
        if render_template(template, without_system, system) != expected:
            return False
    return True


@torch.no_grad()
def greedy(model: Any, tokenizer: Any, max_new_tokens: int) -> list[list[int]]:
    outputs = []
    for messages in probe_messages():
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.eos_token_id)
        outputs.append(out[0, inputs["input_ids"].shape[1]:].tolist())
    return outputs


def default_dir() -> Path:
    return paths.models_dir() / "ollama" / "companion-agent"


def export(out: Path | None = None, adapter: Path | None = None, model_dir: str | Path | None = None,
           max_new_tokens: int = 24, use_active: bool = True) -> ExportResult:
    """Merge `adapter` (default: the active one) into the agent model and write an Ollama folder."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from companion.agent.prompt import SYSTEM_RULES
    from companion.agent.smollm import load

    out = Path(out) if out else default_dir()
    adapter = Path(adapter) if adapter else (adapters.active_adapter() if use_active else None)
    if adapter is not None and not adapters.is_adapter(adapter):
        raise FileNotFoundError(f"{adapter} is not a LoRA adapter folder (no adapter_config.json)")
    model, tokenizer = load(model_dir)
    reference_out: list[list[int]] | None = None
    if adapter is not None:
        tuned = PeftModel.from_pretrained(model, str(adapter))
        tuned.eval()
        reference_out = greedy(tuned, tokenizer, max_new_tokens)
        model = tuned.merge_and_unload()
    else:
        reference_out = greedy(model, tokenizer, max_new_tokens)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / "Modelfile").write_text(modelfile(SYSTEM_RULES))
    (tmp / "export.json").write_text(json.dumps({"adapter": str(adapter) if adapter else None}, indent=2))
    template_ok = template_matches(tokenizer, read_modelfile(tmp / "Modelfile")["template"], SYSTEM_RULES)
    reloaded = AutoModelForCausalLM.from_pretrained(str(tmp), dtype=torch.float32)
    reloaded.eval()
    greedy_equal = greedy(reloaded, tokenizer, max_new_tokens) == reference_out
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    result = ExportResult(out, adapter, template_ok, greedy_equal, len(PROBE_OBSERVATIONS))
    (out / "export.json").write_text(json.dumps(result.to_dict(), indent=2))
    if not (template_ok and greedy_equal):
        raise RuntimeError(f"the export in {out} failed its checks: template matches={template_ok}, "
                           f"merged greedy output equals base+adapter={greedy_equal}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None)
    parser.add_argument("--adapter", default=None)
    args = parser.parse_args()
    print(json.dumps(export(args.out, args.adapter).to_dict(), indent=2))
