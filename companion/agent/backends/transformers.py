"""SmolLM2 (or any causal LM folder) in-process with transformers: the path training fine-tunes.

The model is the cached folder converted once from the packaged GGUF (companion.agent.smollm), so
loading takes well under the 3 s target after the first time. Decoding is greedy, the reply is
prefilled with the start of the JSON format, and generation stops as soon as the reply is settled
(its JSON object closed, "no task" said, or its last key written: backends.reply_settled) or the
deadline passes (a StoppingCriteria), so a hung or rambling model costs little.

Prefix reuse: consecutive agent prompts share their start (the system rules and the few-shot
turns, most of a ~900-token prompt), so the backend keeps the KV cache (`past_key_values`) of the
previous step and, like llama.cpp's `generate(reset=True)`, crops it to the longest common token
prefix with the next prompt: only the new part (the step's observations and evidence) is run.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Sequence

from companion.agent.backends import JSON_PREFIX, GenerationTimeout, Message, common_prefix_length, reply_settled


class _Stop:
    """Stop when the deadline passes or the reply is settled."""

    def __init__(self, tokenizer: Any, prompt_length: int, deadline: float | None) -> None:
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.deadline = deadline
        self.timed_out = False
        self.first_token_at: float | None = None  # when the prompt was read and the first token chosen

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        if self.first_token_at is None:
            self.first_token_at = time.monotonic()
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.timed_out = True
            return torch.ones(input_ids.shape[0], dtype=torch.bool)
        text = JSON_PREFIX + self.tokenizer.decode(input_ids[0, self.prompt_length:], skip_special_tokens=True)
        return torch.full((input_ids.shape[0],), reply_settled(text), dtype=torch.bool)


# A shorter common prefix is not worth keeping a cache for (and a cache must leave one token to run).
MIN_REUSED_TOKENS = 16


class PrefixCache:
    """The previous step's KV cache and the tokens it holds; `reuse(ids)` crops it to the longest
    common prefix with `ids` (None when too little is shared or the cache cannot be cropped)."""

    def __init__(self) -> None:
        self.cache: Any = None
        self.ids: list[int] = []

    def reuse(self, ids: Sequence[int]) -> tuple[Any, int]:
        """(cache to pass to generate, tokens it already holds); a fresh cache and 0 on a miss."""
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        common = min(common_prefix_length(self.ids, ids), len(ids) - 1)  # generate must run at least one token
        cache = self.cache
        # only plain (full-attention) layers crop exactly; sliding-window layers keep a rolling window
        croppable = cache is not None and all(type(layer) is DynamicLayer for layer in cache.layers)
        if not croppable or common < MIN_REUSED_TOKENS:
            self.clear()
            return DynamicCache(), 0
        cache.crop(common - cache.get_seq_length())  # a negative count removes tokens from the end
        return cache, common

    def keep(self, cache: Any, ids: Sequence[int]) -> None:
        """Remember `cache` as holding the first get_seq_length() tokens of `ids`."""
        self.cache, self.ids = cache, list(ids[:cache.get_seq_length()])

    def clear(self) -> None:
        self.cache, self.ids = None, []


class TransformersBackend:
    name = "transformers"

    def __init__(self, model_dir: str | Path | None = None, threads: int = 0, dtype: str = "float32",
                 temperature: float = 0.0, adapter: str | Path | None = None, prefix_cache: bool = True) -> None:
        import torch

        from companion.agent import smollm

        if threads > 0:
            torch.set_num_threads(threads)
        started = time.monotonic()
        self.model, self.tokenizer = smollm.load(model_dir, dtype=getattr(torch, dtype))
        self.model_name = Path(model_dir).name if model_dir else smollm.MODEL_NAME
        self.adapter = Path(adapter) if adapter is not None else None  # the agent then uses its training prompt
        if adapter is not None:  # the user's fine-tuned LoRA (companion train agent), merged once at load
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, str(adapter)).merge_and_unload()
            self.model.eval()
            self.model_name += f"+{Path(adapter).name}"
        self.load_s = time.monotonic() - started
        self.temperature = temperature
        self.prefix_cache = prefix_cache
        self._prefix = PrefixCache()
        self._lock = threading.Lock()
        self.last_stats: dict[str, float] = {}

    def prompt_ids(self, messages: Sequence[Message]) -> Any:
        text = self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return self.tokenizer(text + JSON_PREFIX, return_tensors="pt", add_special_tokens=False)

    def generate(self, messages: Sequence[Message], max_new_tokens: int, deadline: float | None = None) -> str:
        import torch
        from transformers import StoppingCriteriaList

        with self._lock:  # one generation at a time per loaded model
            inputs = self.prompt_ids(messages)
            length = inputs["input_ids"].shape[1]
            stop = _Stop(self.tokenizer, length, deadline)
            sampling = {"do_sample": True, "temperature": self.temperature} if self.temperature > 0 else {"do_sample": False}
            ids = inputs["input_ids"][0].tolist()
            if not self.prefix_cache:
                self._prefix.clear()
            cache, reused = self._prefix.reuse(ids)
            started = time.monotonic()
            try:
                with torch.inference_mode():
                    output = self.model.generate(**inputs, max_new_tokens=max_new_tokens,
                                                 stopping_criteria=StoppingCriteriaList([stop]), cache=cache,
                                                 pad_token_id=self.tokenizer.eos_token_id, **sampling)
            except BaseException:
                self._prefix.clear()  # the cache may hold a half-run step
                raise
            if self.prefix_cache:
                self._prefix.keep(cache, output[0].tolist())
            new_tokens = output[0, length:]
            self.last_stats = {"prompt_tokens": float(length), "cached_tokens": float(reused),
                               "generated_tokens": float(new_tokens.shape[0]), "seconds": time.monotonic() - started,
                               "first_token_s": (stop.first_token_at or time.monotonic()) - started}
            if stop.timed_out:
                raise GenerationTimeout("the model did not finish before its deadline")
            return JSON_PREFIX + self.tokenizer.decode(new_tokens, skip_special_tokens=True)

    def close(self) -> None:
        self._prefix.clear()
        self.model = None


def create(agent: Any) -> TransformersBackend:
    """The default model (plus the adapter `[agent] adapter` selects, if any), or the folder in agent.model."""
    from companion.agent.backends import configured_adapter

    adapter = None if agent.model else configured_adapter(agent)
    return TransformersBackend(agent.model or None, threads=agent.threads, dtype=agent.dtype,
                               temperature=agent.temperature, adapter=adapter)
