"""Ship a base LoRA adapter with companion, only when `companion eval agent` shows it beats the untuned model.

The issue's rule, made executable so the shipped adapter can be rebuilt and re-judged the same
way: the adapter ships when, on the same replay (same traces, same `--max-steps`), its F1 is
higher, its share of well-formed JSON replies is not lower, and any rise in false alarms comes
with a rise in recall. The adapter's files go to companion/agent/adapter/ (where
`companion.agent.adapters.shipped_adapter()` finds them), with `adapter.gguf` (the same adapter for
llama.cpp, the default backend) and `card.json`: how it was trained, on what,
the before/after figures and the exact commands that rebuild and re-judge it.

    python -m training.ship_adapter RUN_DIR --untuned untuned.json --tuned tuned.json [--rebuild "..."]

`untuned.json` / `tuned.json` are `companion eval agent --json` outputs.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any, Sequence

from companion.agent.adapters import GGUF_NAME, SHIPPED, is_adapter, write_gguf

FILES = ("adapter_config.json", "adapter_model.safetensors", "training.json")
SUMMARY = ("Recall", "Precision", "Accuracy", "False-Alarm", "F1", "counts", "well_formed_json", "proposed",
           "unusable_replies", "events", "traces", "max_steps", "seconds", "backend", "model", "adapter", "few_shot",
           "max_observation_tokens", "gate")
BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"  # what the packaged GGUF converts to


def verdict(untuned: dict[str, Any], tuned: dict[str, Any]) -> tuple[bool, list[str]]:
    """(ships, reasons): the comparison the issue asks for, on the same replay."""
    reasons = []
    same = all(untuned.get(k) == tuned.get(k) for k in ("events", "traces", "max_steps"))
    if not same:
        reasons.append("the two replays are not the same subset (events, traces, max_steps differ)")
    if not tuned["F1"] > untuned["F1"]:
        reasons.append(f"F1 not higher ({tuned['F1']:.3f} vs {untuned['F1']:.3f})")
    if tuned.get("well_formed_json", 0) < untuned.get("well_formed_json", 0):
        reasons.append(f"fewer well-formed JSON replies ({tuned['well_formed_json']:.2f} vs {untuned['well_formed_json']:.2f})")
    if tuned["False-Alarm"] > untuned["False-Alarm"] and not tuned["Recall"] > untuned["Recall"]:
        reasons.append("more false alarms without more recall")
    return not reasons, reasons


def summary(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in SUMMARY if k in result}


def ship(run: Path, untuned: dict[str, Any], tuned: dict[str, Any], rebuild: Sequence[str] = (),
         dest: Path = SHIPPED) -> dict[str, Any]:
    """Copy the run's adapter to `dest` with its card; ValueError (with the reasons) when it does not beat the untuned."""
    adapter = run / "adapter" if (run / "adapter").is_dir() else run
    if not is_adapter(adapter):
        raise ValueError(f"{adapter} is not a LoRA adapter folder")
    ships, reasons = verdict(untuned, tuned)
    if not ships:
        raise ValueError("the adapter does not beat the untuned model on `companion eval agent`: " + "; ".join(reasons))
    training = json.loads((adapter / "training.json").read_text()) if (adapter / "training.json").is_file() else {}
    dest.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if (adapter / name).is_file():
            shutil.copy2(adapter / name, dest / name)
    config = json.loads((dest / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = BASE_MODEL  # not the local folder it was trained from
    (dest / "adapter_config.json").write_text(json.dumps(config, indent=2))
    from companion.models import smollm2_gguf

    write_gguf(dest, smollm2_gguf(), dest / GGUF_NAME)  # llama.cpp (the default backend) runs this one
    metrics = training.get("metrics", {})
    card = {
        "what": "LoRA adapter of SmolLM2-135M-Instruct for companion's agent prompt, trained on ProactiveBench "
                "reward rows only (--base-only); the agent uses it with its training prompt (no few-shot turns)",
        "config": training.get("config", {}),
        "data": {"source": "ProactiveBench reward_train.jsonl (Apache-2.0): Correct-Detection rows as task replies, "
                           "Correct-Rejection rows as no-task replies; coding traces not used",
                 "train_examples": metrics.get("train_examples"), "held_out": metrics.get("held_out")},
        "training": {k: metrics.get(k) for k in ("device", "steps_run", "wall_s", "steps_per_s", "mean_tokens",
                                                  "shared_prefix_tokens", "before", "after")},
        "final_losses": metrics.get("losses", [])[-10:],
        "eval_agent": {"untuned": summary(untuned), "tuned": summary(tuned)},
        "rebuild": list(rebuild),
    }
    (dest / "card.json").write_text(json.dumps(card, indent=2))
    return card


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="the training run folder (or its adapter folder)")
    parser.add_argument("--untuned", type=Path, required=True, help="`companion eval agent --json` of the untuned model")
    parser.add_argument("--tuned", type=Path, required=True, help="the same replay with the adapter")
    parser.add_argument("--rebuild", action="append", default=[], help="a command that rebuilds/re-judges it (repeatable)")
    parser.add_argument("--dest", type=Path, default=SHIPPED)
    args = parser.parse_args(argv)
    untuned, tuned = (json.loads(p.read_text()) for p in (args.untuned, args.tuned))
    try:
        ship(args.run, untuned, tuned, args.rebuild, args.dest)
    except ValueError as exc:
        print(f"not shipped: {exc}")
        return 1
    print(f"shipped to {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
