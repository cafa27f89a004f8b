"""Agent backends side by side on the same model: load time, prompt tokens/s, generated tokens/s,
peak RSS, and real agent steps (prompt with few-shot -> parsed reply), cold and with a warm prefix.

    python benchmarks/bench_agent_backend.py [--tokens 64] [--json] [--threads N] [--model GGUF]
                                             [--only transformers,transformers-bf16,llama_cpp,llama_cpp-adapter,openai]

`llama_cpp` is the packaged model as llama.cpp runs it (the Q8_0 copy of companion/agent/gguf_merge.py),
`llama_cpp-adapter` the daemon's default: the shipped (or active) LoRA adapter folded into that file,
with the prompt the adapter was trained on. `--model` runs a GGUF as it is (the packaged Q4_1 file,
for the figures before the Q8_0 copy).

`openai` is the same GGUF behind llama.cpp's OpenAI-compatible server (`python -m llama_cpp.server`)
on a loopback port, through companion's `openai` backend: the in-process figures plus HTTP.
"Warm" steps are the engine's case: the system rules and few-shot turns (most of a ~900-token
prompt) are the same as in the step before, only the observations changed, and llama.cpp reuses
the KV cache of the common prefix; "effective prompt tok/s" is the prompt's length over the time
to its first generated token.

Each backend runs in its own subprocess (a fair peak RSS, no shared caches). transformers runs the
float32 folder converted from the packaged GGUF (and bfloat16 for comparison); llama_cpp runs the
packaged SmolLM2-135M-Instruct (Q4_1 as shipped, Q8_0 as run) when llama-cpp-python is installed. The machine's
load average is printed too: on a shared 2-core machine the figures move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AGENT_STEP_TOKENS = 96  # cap for the one real agent step (a reply usually closes its JSON sooner)
OBSERVATIONS = [
    {"time": "2026-03-02 10:12:55", "event": "The user saved `api/client.py` (88 lines, 4 changed) in `get_user`."},
    {"time": "2026-03-02 10:13:40", "event": "The user switched to the terminal."},
    {"time": "2026-03-02 10:14:20", "event": "The user ran `pytest -x tests/test_client.py` in `.`; it failed (exit 1) "
                                             "after 1.2 s: NameError: name 'usr' is not defined."},
]


THREADS = int(os.environ.get("BENCH_THREADS", "0"))  # 0: each backend's default
MODEL = os.environ.get("BENCH_MODEL", "")  # llama_cpp: another GGUF than the packaged SmolLM2


def measure(kind: str, tokens: int) -> dict:
    """Runs inside the child process."""
    import resource

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from companion.agent.prompt import build_messages
    from companion.config import Config

    messages = build_messages(OBSERVATIONS)
    config = Config()
    result: dict = {"backend": kind}
    if kind.startswith("transformers"):
        import torch

        from companion.agent.backends.transformers import TransformersBackend
        from companion.agent.smollm import ensure_converted

        ensure_converted()  # the one-time conversion is not part of the load time
        dtype = "bfloat16" if kind.endswith("bf16") else "float32"
        started = time.perf_counter()
        backend = TransformersBackend(dtype=dtype, threads=THREADS)
        result["load_s"] = time.perf_counter() - started
        inputs = backend.prompt_ids(messages)
        n_prompt = inputs["input_ids"].shape[1]
        with torch.inference_mode():
            backend.model(**inputs)  # warm-up
            started = time.perf_counter()
            backend.model(**inputs)
            prefill = time.perf_counter() - started
            started = time.perf_counter()
            out = backend.model.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False,
                                         pad_token_id=backend.tokenizer.eos_token_id)
            total = time.perf_counter() - started
        generated = out.shape[1] - n_prompt
        result["model"] = f"smollm2-135m-instruct ({dtype}, transformers)"
        config.agent.dtype = dtype
    else:
        from companion.agent.adapters import for_agent, runnable_model
        from companion.agent.backends.llama_cpp import LlamaCppBackend
        from companion.models import smollm2_gguf

        adapter = for_agent("") if kind == "llama_cpp-adapter" else None
        if not MODEL:
            runnable_model(adapter, smollm2_gguf())  # the one-time Q8_0 file (gguf_merge.py) is not part of the load
        started = time.perf_counter()
        backend = LlamaCppBackend(MODEL or None, threads=THREADS, adapter=adapter)
        result["load_s"] = time.perf_counter() - started
        n_prompt, prefill, total = backend.on_model_thread(raw_rates, backend, messages, tokens)
        generated = tokens
        result["model"] = f"{backend.model_name} (llama.cpp, {Path(backend.llm.model_path).name})"
    decode = max(total - prefill, 1e-9)
    result.update({"prompt_tokens": int(n_prompt), "prompt_tok_s": n_prompt / prefill, "generated_tokens": int(generated),
                   "gen_tok_s": generated / decode})
    result.update(agent_steps(backend))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def raw_rates(backend, messages, tokens: int) -> tuple[int, float, float]:  # noqa: ANN001 - LlamaCppBackend
    """llama.cpp's prompt and generation rates without the agent: (prompt tokens, prefill s, total s),
    the median of RATE_RUNS runs after a warm-up (one run moves by ±10 % on a shared machine).
    Runs on the backend's model thread, as its steps do (llama_cpp.py: one OpenMP team)."""
    import statistics

    llm = backend.llm
    prompt = llm.tokenize(backend.prompt_text(messages).encode(), add_bos=False, special=True)
    llm.reset()
    llm.eval(prompt)  # warm-up
    prefills, decodes = [], []
    for _ in range(RATE_RUNS):
        llm.reset()
        started = time.perf_counter()
        llm.eval(prompt)
        prefills.append(time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(tokens):
            token = llm.sample(temp=0.0)
            llm.eval([token])
        decodes.append(time.perf_counter() - started)
    prefill = statistics.median(prefills)
    return len(prompt), prefill, prefill + statistics.median(decodes)


RATE_RUNS = 5


def agent_steps(backend) -> dict:  # noqa: ANN001 - any Backend
    """One cold agent step, then WARM_STEPS steps that differ from the one before only in the
    newest observation (the engine's case), with their median time and effective prompt speed."""
    import statistics

    from companion.agent.runner import Agent

    prompt = {}
    if getattr(backend, "adapter", None) is not None:
        from companion.agent.adapters import prompt_settings

        prompt = prompt_settings(backend.adapter)  # the prompt the adapter was trained on, as the daemon uses it
    agent = Agent(backend, None, timeout_s=600, max_new_tokens=AGENT_STEP_TOKENS, **prompt)
    cold = agent.step(OBSERVATIONS)
    warm = []
    for index in range(WARM_STEPS):
        later = OBSERVATIONS + [{"time": f"2026-03-02 10:15:{index:02d}", "event": f"The user saved `api/client.py` "
                                                                                   f"({88 + index} lines, 1 changed)."}]
        warm.append(agent.step(later))
    seconds = [s.seconds for s in warm]
    first = [s.stats.get("first_token_s") for s in warm if s.stats.get("first_token_s")]
    prompt = [s.stats.get("prompt_tokens") for s in warm if s.stats.get("prompt_tokens")]
    cached = [s.stats["cached_tokens"] for s in warm if "cached_tokens" in s.stats]
    figures = {"agent_step_s": cold.seconds, "agent_step_tokens": cold.stats.get("generated_tokens"),
               "agent_task": cold.reply.task, "agent_problem": cold.reply.problem,
               "warm_step_p50_s": statistics.median(seconds), "warm_step_max_s": max(seconds),
               "warm_generated_tokens": statistics.median(s.stats.get("generated_tokens", 0) for s in warm)}
    if cached:
        figures["warm_cached_tokens"] = statistics.median(cached)
    if first and prompt:
        figures["warm_prompt_tok_s"] = statistics.median(p / f for p, f in zip(prompt, first))
    return figures


WARM_STEPS = 5


def measure_openai(tokens: int) -> dict:
    """The packaged GGUF behind llama.cpp's server, through the `openai` backend (runs in the child).

    The server gets the in-process backend's thread count (for prompt and generation alike). Rates
    come from the server's own usage figures: the prompt rate from a 1-token request on a prompt the
    server has not seen (its cache cannot help), the generation rate from the same request again
    (the prompt now cached) with `tokens` to generate; both include the HTTP round trip."""
    import resource

    from companion.agent.backends.llama_cpp import default_threads
    from companion.agent.backends.openai import OpenAIBackend
    from companion.agent.prompt import build_messages
    from tests.llama_server import MODEL_ALIAS, start_server

    threads = THREADS or default_threads()
    server = start_server(threads=threads)
    started = time.perf_counter()
    base = next(server)
    result: dict = {"backend": "openai", "load_s": time.perf_counter() - started, "threads": threads,
                    "model": f"{MODEL_ALIAS} (llama.cpp server, {base}, {threads} thread(s))"}
    backend = OpenAIBackend(base, MODEL_ALIAS, timeout_s=600)
    backend.generate(build_messages(OBSERVATIONS), max_new_tokens=1)  # warm-up (the model's pages, the HTTP path)
    messages = build_messages(OBSERVATIONS)
    messages[0] = {**messages[0], "content": f"[run {time.time_ns()}] {messages[0]['content']}"}  # nothing cached
    started = time.perf_counter()
    _text, usage = backend.endpoint.chat(MODEL_ALIAS, messages, 1)
    prefill = time.perf_counter() - started
    started = time.perf_counter()
    _text, generated = backend.endpoint.chat(MODEL_ALIAS, messages, tokens)  # the prompt is cached now
    decode = time.perf_counter() - started
    result.update({"prompt_tokens": int(usage.get("prompt_tokens") or 0),
                   "prompt_tok_s": (usage.get("prompt_tokens") or 0) / prefill,
                   "generated_tokens": int(generated.get("completion_tokens") or 0),
                   "gen_tok_s": (generated.get("completion_tokens") or 0) / decode})
    result.update(agent_steps(backend))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the client; the server is apart
    backend.close()
    server.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--only", default="transformers,transformers-bf16,llama_cpp,llama_cpp-adapter")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for both (default: each backend's own)")
    parser.add_argument("--model", default="", help="llama_cpp: a GGUF file instead of the packaged SmolLM2")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per backend before it is given up")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import signal

        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped run still stops its server (finally)
        print(json.dumps(measure_openai(args.tokens) if args.child == "openai" else measure(args.child, args.tokens)))
        return 0
    from companion.agent.backends.llama_cpp import available

    load_before = os.getloadavg()[0]
    results = []
    for kind in args.only.split(","):
        if (kind.startswith("llama_cpp") or kind == "openai") and not available():
            results.append({"backend": kind, "skipped": "llama-cpp-python is not installed"})
            continue
        env = {**os.environ, "BENCH_THREADS": str(args.threads), "BENCH_MODEL": args.model, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        child = subprocess.Popen([sys.executable, __file__, "--child", kind, "--tokens", str(args.tokens)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            stdout, stderr = child.communicate(timeout=args.timeout)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            child.terminate()  # SIGTERM: the child's finally blocks stop the llama.cpp server it started
            child.communicate(timeout=30)
            results.append({"backend": kind, "error": f"did not finish within {args.timeout:.0f} s"})
            continue
        done = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
        if done.returncode != 0:
            results.append({"backend": kind, "error": done.stderr.strip().splitlines()[-1:]})
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    summary = {"results": results, "threads": args.threads or "default", "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
               "cpus": os.cpu_count(), "tokens": args.tokens}
    fast = {r["backend"]: r for r in results if "gen_tok_s" in r}
    if "llama_cpp" in fast and "transformers" in fast:
        summary["transformers_vs_llama_cpp"] = fast["transformers"]["gen_tok_s"] / fast["llama_cpp"]["gen_tok_s"]
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"{os.cpu_count()} CPUs, load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after; "
          f"{args.tokens} generated tokens")
    print(f"{'backend':18} {'load s':>7} {'prompt tok/s':>12} {'gen tok/s':>9} {'peak RSS MB':>11} {'cold step s':>11} "
          f"{'warm step p50 s':>15} {'warm prompt tok/s':>17} {'reused':>6}")
    for r in results:
        if "gen_tok_s" not in r:
            print(f"{r['backend']:18} {r.get('skipped') or r.get('error')}")
            continue
        print(f"{r['backend']:18} {r['load_s']:7.2f} {r['prompt_tok_s']:12.0f} {r['gen_tok_s']:9.1f} "
              f"{r['peak_rss_mb']:11.0f} {r['agent_step_s']:11.2f} {r['warm_step_p50_s']:15.2f} "
              f"{r.get('warm_prompt_tok_s', float('nan')):17.0f} {r.get('warm_cached_tokens', float('nan')):6.0f}"
              f"   task: {r['agent_task']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
