"""The packaged SmolLM2 GGUF (or another GGUF) in-process through llama.cpp (`llama-cpp-python`).

Why: on a laptop CPU llama.cpp runs the quantised GGUF several times faster than transformers runs
the dequantised float32 copy, and loads in a fraction of a second. The package is optional: when it
is not installed, `load_backend` falls back to transformers with a note.

Prefix reuse: `Llama.generate(reset=True)` keeps the KV cache of the longest common token prefix
with the previous prompt, and the agent's prompts start with the same system rules and few-shot
turns (companion/agent/prompt.py keeps everything that changes after them), so a step reads only
its own observations and evidence. `last_stats["cached_tokens"]` says how many it reused.

One thread drives the model (`on_model_thread`): llama.cpp's CPU threads are an OpenMP team that
belongs to the thread that calls it, and a second calling thread gets a second team that competes
with the first. Measured on the 2-core build machine with 2 threads: 68 generated tok/s from one
thread, 30 tok/s once another thread had called the model too.

Threads (`[agent] threads = 0`, the default): all CPUs up to 4 while the machine is quiet, one
while it is busy, chosen before every step from what other processes used since the last one
(`OtherLoad`, `step_threads`). The team's threads spin at every barrier, so on busy cores each
waits for one the scheduler put aside.
Measured on the 2-core machine, warm agent steps of a ~930-token prompt (36 generated tokens),
`benchmarks/bench_agent_backend.py --threads N`: idle, 0.77 s with 2 threads (68 tok/s generated)
against 1.35 s with 1 (40 tok/s); at load 4.5, 8.2 s with 2 against about 2 s with 1. Letting the
threads sleep instead of spin (OMP_WAIT_POLICY=PASSIVE) helped under load (1.7 s) but cost the idle
machine half its speed (1.58 s, 28 tok/s), so it is not used. A set `threads` is kept as it is.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from companion.agent.backends import (JSON_PREFIX, BackendUnavailable, GenerationTimeout, Message, chatml,
                                      common_prefix_length, reply_settled)


def available() -> bool:
    """True when llama-cpp-python is installed and its shared library loads."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        return False
    try:
        import llama_cpp  # noqa: F401  (loads libllama)
    except (ImportError, OSError, RuntimeError):
        return False
    return True


MAX_DEFAULT_THREADS = 4  # a 135M–1B model is bound by memory bandwidth past a few threads


def default_threads() -> int:
    """Every CPU, up to MAX_DEFAULT_THREADS: on the idle 2-core machine 2 threads made a warm step
    40 % shorter than 1 (module docstring). The benchmark gives llama.cpp's server the same number."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_THREADS))


class OtherLoad:
    """How many cores other processes kept busy since the last look: the machine's busy time
    (/proc/stat) less this process's own CPU time, over the wall time between. The load average
    cannot tell: the model's own spinning threads raise it by their number while they run."""

    def __init__(self) -> None:
        self.last = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat", encoding="ascii") as stat:
                fields = [float(x) for x in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        if len(fields) < 5:
            return None
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
        own = sum(os.times()[:2])
        return time.monotonic(), busy, own

    def cores(self) -> float | None:
        """Cores busy with other work since the previous call (None where /proc/stat is not)."""
        now = self._sample()
        if now is None or self.last is None:
            return None
        then, self.last = self.last, now
        elapsed = now[0] - then[0]
        if elapsed < 0.05:
            return None
        return max(0.0, (now[1] - then[1]) - (now[2] - then[2])) / elapsed


def step_threads(threads: int, other_cores: float | None, cpus: int | None = None) -> int:
    """`threads` while that many cores are spare, else 1: llama.cpp's spinning threads collapse on
    busy cores (module docstring). Unknown load (no /proc/stat, or a step right after the last one)
    keeps `threads`."""
    cpus = cpus or os.cpu_count() or 1
    if threads <= 1 or other_cores is None:
        return threads
    return threads if cpus - other_cores >= threads - 0.5 else 1


Result = TypeVar("Result")


log = logging.getLogger(__name__)
CLOSE_WAIT_S = 60.0  # a prompt's evaluation on a loaded machine; the step's own deadline bounds it too


class LlamaCppBackend:
    name = "llama_cpp"

    def __init__(self, model_path: str | Path | None = None, threads: int = 0, n_ctx: int = 4096,
                 temperature: float = 0.0, adapter: str | Path | None = None) -> None:
        if not available():
            raise BackendUnavailable("the llama_cpp backend needs the package llama-cpp-python "
                                     "(`pip install llama-cpp-python`); using transformers instead")
        from llama_cpp import Llama

        from companion.models import smollm2_gguf

        path = base = Path(model_path) if model_path else smollm2_gguf()
        if not path.is_file():
            raise BackendUnavailable(f"the GGUF model {path} does not exist")
        started = time.monotonic()
        self.adaptive = not threads  # `[agent] threads = 0`: chosen before each step (step_threads)
        threads = threads or default_threads()
        # a LoRA adapter (companion train agent, or the shipped default) is folded into the weights
        self.adapter = Path(adapter) if adapter is not None else None  # the agent then uses its training prompt
        if self.adapter is not None or model_path is None:
            from safetensors import SafetensorError

            from companion.agent.adapters import runnable_model

            # the packaged model, with its adapter, as one Q8_0 file (gguf_merge.py); a GGUF the user
            # named without an adapter runs as it is
            try:
                path = runnable_model(self.adapter, base)
            except (OSError, ValueError, SafetensorError) as exc:  # an unreadable adapter, a full disk
                raise BackendUnavailable(f"could not prepare {base.name} for llama.cpp: {exc}") from exc
        self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)
        self.threads = threads
        self._threads_now = threads
        self._other_load = OtherLoad()
        self.load_s = time.monotonic() - started
        self.model_name = base.name + (f"+{self.adapter.name}" if self.adapter is not None else "")
        self.temperature = temperature
        template = str(self.llm.metadata.get("tokenizer.chat_template", ""))
        self._chatml = "<|im_start|>" in template or not template
        self._lock = threading.Lock()  # one generation at a time, and never one while the model is freed
        self._driver_ident: int | None = None
        self._driver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-cpp", initializer=self._driver_started)
        self._closing = threading.Event()
        self.last_stats: dict[str, float] = {}

    def prompt_text(self, messages: Sequence[Message]) -> str:
        return chatml(messages, JSON_PREFIX)

    def _driver_started(self) -> None:
        self._driver_ident = threading.get_ident()

    def on_model_thread(self, work: Callable[..., Result], *args: Any) -> Result:
        """Run `work(*args)` on the one thread that drives llama.cpp (module docstring: its OpenMP
        team belongs to the calling thread). Exceptions come back to the caller."""
        if threading.get_ident() == self._driver_ident:
            return work(*args)
        try:
            future = self._driver.submit(work, *args)
        except RuntimeError:  # the driver was shut down by close()
            raise BackendUnavailable("the llama.cpp model was closed") from None
        return future.result()

    def generate(self, messages: Sequence[Message], max_new_tokens: int, deadline: float | None = None) -> str:
        return self.on_model_thread(self._generate, messages, max_new_tokens, deadline)

    def _generate(self, messages: Sequence[Message], max_new_tokens: int, deadline: float | None) -> str:
        if not self._chatml:  # a GGUF with another template: let llama.cpp apply it, no prefill
            return self._chat(messages, max_new_tokens, deadline)
        with self._lock:
            self._check_open()
            self._set_threads()
            prompt = self.llm.tokenize(self.prompt_text(messages).encode(), add_bos=False, special=True)
            stops = {self.llm.token_eos(), *self.llm.tokenize(b"<|im_end|>", add_bos=False, special=True)}
            cached = common_prefix_length(self.llm._input_ids.tolist(), prompt) if self.llm.n_tokens else 0
            data, text, count = b"", JSON_PREFIX, 0
            started = time.monotonic()
            first_token_s = 0.0
            for token in self.llm.generate(prompt, temp=self.temperature, reset=True):
                if count == 0:
                    first_token_s = time.monotonic() - started
                if token in stops:
                    break
                data += self.llm.detokenize([token])
                text = JSON_PREFIX + data.decode("utf-8", errors="ignore")
                count += 1
                if deadline is not None and time.monotonic() > deadline:
                    raise GenerationTimeout("the model did not finish before its deadline")
                if self._closing.is_set():
                    raise GenerationTimeout("the model is being closed")
                if count >= max_new_tokens or reply_settled(text):
                    break
            self.last_stats = {"prompt_tokens": float(len(prompt)), "cached_tokens": float(cached),
                               "threads": float(self._threads_now),
                               "generated_tokens": float(count),
                               "seconds": time.monotonic() - started, "first_token_s": first_token_s}
            return text

    def _chat(self, messages: Sequence[Message], max_new_tokens: int, deadline: float | None) -> str:
        with self._lock:
            self._check_open()
            self._set_threads()
            text = ""
            for chunk in self.llm.create_chat_completion(messages=list(messages), max_tokens=max_new_tokens,
                                                         temperature=self.temperature, stream=True):
                text += chunk["choices"][0]["delta"].get("content", "") or ""
                if deadline is not None and time.monotonic() > deadline:
                    raise GenerationTimeout("the model did not finish before its deadline")
                if self._closing.is_set():
                    raise GenerationTimeout("the model is being closed")
                if reply_settled(text):
                    break
            return text

    def _set_threads(self) -> None:
        """This step's thread count (under the lock: the model is open)."""
        if not self.adaptive:
            return
        other = self._other_load.cores()
        threads = step_threads(self.threads, other) if other is not None else self._threads_now
        if threads != self._threads_now:
            self.llm._ctx.set_n_threads(threads, threads)
            self._threads_now = threads

    def _check_open(self) -> None:
        if self.llm is None or self._closing.is_set():
            raise BackendUnavailable("the llama.cpp model was closed")

    def close(self) -> None:
        """Free the model, but never under a generation running on another thread: freeing the
        context mid-decode crashes the process (seen when a daemon stopped during a step). The
        generation stops at its next token; its prompt's evaluation is waited for, up to CLOSE_WAIT_S,
        and past that the model is left to the process's exit rather than freed under it."""
        self._closing.set()
        if not self._lock.acquire(timeout=CLOSE_WAIT_S):
            log.warning("the llama.cpp model is still busy after %.0f s; not freed before exit", CLOSE_WAIT_S)
            return
        try:
            llm, self.llm = self.llm, None
            if llm is not None:
                llm.close()
        finally:
            self._lock.release()
            self._driver.shutdown(wait=False)


def create(agent: Any) -> LlamaCppBackend:
    """The packaged GGUF (with the adapter `[agent] adapter` selects folded in), or the GGUF in agent.model."""
    from companion.agent.backends import configured_adapter

    adapter = None if agent.model else configured_adapter(agent)
    return LlamaCppBackend(agent.model or None, threads=agent.threads, temperature=agent.temperature, adapter=adapter)
