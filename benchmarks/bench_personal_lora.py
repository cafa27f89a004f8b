"""Speed of agent LoRA fine-tuning on this machine: steps per second and wall time.

    python benchmarks/bench_personal_lora.py [--steps 5] [--batch-size 4] [--json]

Trains the default configuration (r=8 on q/v, the agent's prompt, ProactiveBench base examples)
for a few steps into a temporary folder (nothing is activated) and prints the figures, with the
load average, because the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from training.agent_lora import AgentLoraConfig, main as train

    with tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        metrics = train(AgentLoraConfig(base_only=True, base_examples=32, eval_examples=2, generate_eval=0,
                                        steps=args.steps, batch_size=args.batch_size, activate=False,
                                        out=os.path.join(folder, "run")))
        total = time.monotonic() - started
    figures = {"steps": metrics["steps_run"], "batch_size": args.batch_size, "steps_per_s": metrics["steps_per_s"],
               "train_wall_s": metrics["wall_s"], "total_wall_s": round(total, 1), "device": metrics["device"],
               "mean_tokens": metrics["mean_tokens"], "shared_prefix_tokens": metrics["shared_prefix_tokens"],
               "load_average": os.getloadavg()[0], "cpus": os.cpu_count()}
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
