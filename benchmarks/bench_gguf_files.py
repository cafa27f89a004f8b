"""The files llama.cpp could run for the default agent, side by side in one process, interleaved.

    python benchmarks/bench_gguf_files.py [--rounds 9] [--tokens 64] [--threads 2] [--json]

Why interleaved: this machine's speed drifts by ±15 % from minute to minute, so separate runs of
bench_agent_backend.py minutes apart cannot tell 75 from 81 tok/s. Here every round times each file
once, on the same prompt (the agent prompt of bench_agent_backend.py, ~930 tokens), and the
medians (the first round is a warm-up) compare files under the same drift. The files:

- `q4_1+lora`: the packaged Q4_1 GGUF with the shipped adapter applied at run time (before);
- `q4_1`: the packaged file alone;
- `q8_0`: its Q8_0 copy (companion/agent/gguf_merge.py), no adapter;
- `q8_0+merged`: the Q8_0 copy with the adapter folded in (what the daemon runs by default).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from llama_cpp import Llama

    from bench_agent_backend import OBSERVATIONS
    from companion.agent.adapters import gguf_for, runnable_model, shipped_adapter
    from companion.agent.backends import JSON_PREFIX, chatml
    from companion.agent.prompt import build_messages
    from companion.models import smollm2_gguf

    packaged, adapter = smollm2_gguf(), shipped_adapter()
    if adapter is None:
        print("no shipped adapter: nothing to compare", file=sys.stderr)
        return 2
    files = {"q4_1+lora": (packaged, gguf_for(adapter, packaged)), "q4_1": (packaged, None),
             "q8_0": (runnable_model(None, packaged), None), "q8_0+merged": (runnable_model(adapter, packaged), None)}
    models = {name: Llama(model_path=str(path), n_ctx=4096, n_threads=args.threads, n_threads_batch=args.threads,
                          verbose=False, lora_path=str(lora) if lora else None) for name, (path, lora) in files.items()}
    text = chatml(build_messages(OBSERVATIONS), JSON_PREFIX)
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, llm in models.items():
            prompt = llm.tokenize(text.encode(), add_bos=False, special=True)
            llm.reset()
            started = time.perf_counter()
            llm.eval(prompt)
            prefill = time.perf_counter() - started
            started = time.perf_counter()
            for _ in range(args.tokens):
                llm.eval([llm.sample(temp=0.0)])
            rates[name].append((len(prompt) / prefill, args.tokens / (time.perf_counter() - started)))
    result = {"threads": args.threads, "tokens": args.tokens, "rounds": args.rounds,
              "load_average": round(os.getloadavg()[0], 2),
              "files": {name: {"file": files[name][0].name, "lora_at_run_time": files[name][1] is not None,
                               "prompt_tok_s": round(statistics.median(p for p, _ in runs[1:]), 1),
                               "gen_tok_s": round(statistics.median(g for _, g in runs[1:]), 1),
                               "gen_each": [round(g) for _, g in runs[1:]]}
                        for name, runs in rates.items()}}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.rounds - 1} rounds (after a warm-up), {args.threads} threads, {args.tokens} tokens after the "
          f"agent prompt; load average {result['load_average']}")
    for name, figures in result["files"].items():
        print(f"{name:12} prompt {figures['prompt_tok_s']:6.0f} tok/s   generated {figures['gen_tok_s']:5.1f} tok/s   "
              f"{figures['gen_each']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
