"""Frozen all-MiniLM-L6-v2 sentence embeddings in plain numpy, cached per sentence.

Why numpy and not torch/transformers: the gate must load in well under two seconds on a busy
laptop CPU, and importing torch + transformers alone takes several seconds (tens of seconds
on a loaded 2-core machine). MiniLM-L6 is a small BERT (6 layers, 384 wide), so its forward
pass is a dozen matrix products that numpy does as fast as torch for one short sentence. The
tokenizer is the `tokenizers` (Rust) one read from the model's own tokenizer.json, and the
weights are memory-mapped from its safetensors file. `tests/gate/test_encoder.py` checks that
the embeddings match transformers' to 1e-4.

The gate never fine-tunes the encoder: each observation sentence and each task is embedded once
(mean pooling + L2 normalisation, as sentence-transformers does) and a small head reads the
embeddings. Observations repeat from one gate call to the next (the history grows by one event),
so an LRU cache makes a call cost one short task sentence plus at most one new event; training
reads a disk cache (`embed_file`) so the data set is embedded once.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from companion.models import minilm_dir

DIM = 384
MAX_TOKENS = 128  # observations and tasks are one sentence; longer ones are cut
LAYERS = 6
HEADS = 12
HEAD_DIM = DIM // HEADS
EPS = 1e-12


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, 0.5·x·(1 + erf(x/√2)), with Abramowitz–Stegun 7.1.26 for erf (|error| <
    1.5e-7; numpy has no erf). Written with in-place operations on one scratch array: a batch's
    activations are megabytes, and allocating a fresh one per step made GELU twice as slow."""
    z = x * x.dtype.type(0.7071067811865476)
    a = np.abs(z)
    t = a * a.dtype.type(0.3275911)
    t += 1
    np.reciprocal(t, out=t)
    poly = t * t.dtype.type(1.061405429)
    poly += t.dtype.type(-1.453152027)
    for coefficient in (1.421413741, -0.284496736, 0.254829592):
        poly *= t
        poly += t.dtype.type(coefficient)
    poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(1, poly, out=poly)  # erf(|z|)
    np.copysign(poly, z, out=poly)  # erf(z)
    poly += 1
    poly *= x
    poly *= x.dtype.type(0.5)
    return poly


@functools.lru_cache(maxsize=1)
def _blas_thread_setter() -> Callable[[int], int] | None:
    """OpenBLAS's per-thread thread-count setter from numpy's bundled library, if there is one.

    numpy's OpenBLAS starts one thread per core and spins; on a busy machine (or inside a daemon
    that shares the CPU with an editor and a language model) that makes a 20 ms matrix product
    take seconds. The encoder keeps OpenBLAS single-threaded on its own threads only
    (`openblas_set_num_threads_local`) and splits the products itself (SentenceEncoder.__init__),
    leaving numpy's setting for everyone else untouched.
    """
    import ctypes

    folder = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for library in sorted(folder.glob("libscipy_openblas*.so*")) + sorted(folder.glob("libopenblas*.so*")):
        try:
            function = ctypes.CDLL(str(library)).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
        return function
    return None


def default_threads() -> int:
    """Two shards where there are two cores: on the quiet 2-core machine one short sentence took
    19 ms instead of 27 ms, and a batch 10 ms a sentence instead of 19 ms. More shards cost more
    hand-offs than they save for a model this small, and leave no core to the editor and the agent."""
    return max(1, min(2, os.cpu_count() or 1))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * weight + bias


class SentenceEncoder:
    """MiniLM-L6 as a sentence encoder (numpy forward pass) with an LRU cache of sentences."""

    def __init__(self, model_dir: str | Path | None = None, cache_size: int = 4096, threads: int | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = Path(model_dir or minilm_dir())
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self.w = load_file(str(path / "model.safetensors"))
        self.threads = threads or default_threads()
        self.shards = [self._shard(index) for index in range(self.threads)]
        for layer in range(LAYERS):  # the shards hold these now
            p = f"encoder.layer.{layer}."
            for name in ("attention.self.query", "attention.self.key", "attention.self.value"):
                del self.w[p + name + ".weight"], self.w[p + name + ".bias"]
            for name in ("attention.output.dense.weight", "intermediate.dense.weight", "intermediate.dense.bias",
                         "output.dense.weight"):
                del self.w[p + name]
        self._pool = (ThreadPoolExecutor(self.threads - 1, thread_name_prefix="minilm",
                                         initializer=self._single_threaded_blas) if self.threads > 1 else None)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _shard(self, index: int) -> list[dict[str, np.ndarray]]:
        """Shard `index` of every layer, as Megatron-LM splits a transformer over devices: a share of
        the attention heads (their q, k, v columns fused, and their rows of the output matrix) and a
        share of the feed-forward neurons (their columns of the first matrix, rows of the second).
        Each shard's part of a block is independent until the partial outputs are summed, so the
        calling thread and pool workers each run one shard with one hand-off per block; every
        weight is read by one core only (the products are limited by reading the weights, not by
        arithmetic), and a waiting thread blocks instead of spinning as OpenBLAS's own threads do,
        which on a busy machine made a batch twenty times slower."""
        heads = np.array_split(np.arange(HEADS), self.threads)[index]
        dims = np.concatenate([np.arange(h * HEAD_DIM, (h + 1) * HEAD_DIM) for h in heads])
        neurons = np.array_split(np.arange(self.w["encoder.layer.0.intermediate.dense.bias"].shape[0]), self.threads)[index]
        layers = []
        for layer in range(LAYERS):
            p = f"encoder.layer.{layer}."
            q, k, v = (self.w[p + f"attention.self.{n}.weight"][dims] for n in ("query", "key", "value"))
            layers.append({
                "qkv": np.ascontiguousarray(np.concatenate([q, k, v]).T),
                "qkv_bias": np.concatenate([self.w[p + f"attention.self.{n}.bias"][dims] for n in ("query", "key", "value")]),
                "attention_out": np.ascontiguousarray(self.w[p + "attention.output.dense.weight"][:, dims].T),
                "up": np.ascontiguousarray(self.w[p + "intermediate.dense.weight"][neurons].T),
                "up_bias": self.w[p + "intermediate.dense.bias"][neurons].copy(),
                "down": np.ascontiguousarray(self.w[p + "output.dense.weight"][:, neurons].T),
            })
        return layers

    @staticmethod
    def _single_threaded_blas() -> int:
        setter = _blas_thread_setter()
        return setter(1) if setter is not None else 0

    @staticmethod
    def _attention_part(x: np.ndarray, shard: dict[str, np.ndarray], additive: np.ndarray) -> np.ndarray:
        """This shard's heads: their attention, times their rows of the output matrix."""
        batch, length, _ = x.shape
        heads = shard["qkv"].shape[1] // (3 * HEAD_DIM)
        qkv = x @ shard["qkv"] + shard["qkv_bias"]
        qkv = qkv.reshape(batch, length, 3, heads, HEAD_DIM).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(HEAD_DIM)) + additive
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, heads * HEAD_DIM)
        return context @ shard["attention_out"]

    @staticmethod
    def _feed_forward_part(x: np.ndarray, shard: dict[str, np.ndarray]) -> np.ndarray:
        """This shard's neurons: GELU(x W1 + b1) for them, times their rows of the second matrix."""
        return gelu(x @ shard["up"] + shard["up_bias"]) @ shard["down"]

    def _sharded(self, part, layer: int, *args: np.ndarray) -> np.ndarray:  # noqa: ANN001 - one of the two parts
        """Sum of `part` over the shards of `layer`: the first on this thread, the others on the pool."""
        first, *others = [shard[layer] for shard in self.shards]
        pending = [self._pool.submit(part, args[0], other, *args[1:]) for other in others] if self._pool else []
        total = part(args[0], first, *args[1:])
        for future in pending:
            total += future.result()
        return total

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean-pooled, normalised embeddings of a padded (batch, length) id matrix."""
        w = self.w
        batch, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        additive = ((1.0 - mask[:, None, None, :]) * -1e9).astype(np.float32)
        for layer in range(LAYERS):
            p = f"encoder.layer.{layer}."
            attn = self._sharded(self._attention_part, layer, x, additive) + w[p + "attention.output.dense.bias"]
            x = _layer_norm(x + attn, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            out = self._sharded(self._feed_forward_part, layer, x) + w[p + "output.dense.bias"]
            x = _layer_norm(x + out, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        m = mask[:, :, None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)).astype(np.float32)

    def embed_uncached(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        setter = _blas_thread_setter()
        if setter is None:
            return self._embed_batches(texts, batch_size)
        previous = setter(1)  # the parallelism is ours (see __init__), never OpenBLAS's spinning threads
        try:
            return self._embed_batches(texts, batch_size)
        finally:
            setter(previous if previous > 0 else 0)

    def _embed_batches(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # batch similar lengths
        result = np.zeros((len(texts), DIM), np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            length = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), length), np.int64)
            mask = np.zeros((len(chunk), length), np.float32)
            for row, i in enumerate(chunk):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1.0
            result[chunk] = self._forward(ids, mask)
        return result

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 384) float32, unit-norm rows; sentences seen recently are not recomputed."""
        if not texts:
            return np.zeros((0, DIM), np.float32)
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                for text, vector in zip(missing, self.embed_uncached(missing)):
                    self._cache[text] = vector
            result = np.stack([self._cache[t] for t in texts])
            for text in texts:
                self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return result


def embed_file(encoder: SentenceEncoder, texts: Iterable[str], cache_file: str | Path,
               progress: bool = False) -> dict[str, np.ndarray]:
    """Embeddings of `texts`, reusing and extending an .npz cache keyed by each sentence's sha1."""
    cache_file = Path(cache_file)
    known: dict[str, np.ndarray] = {}
    if cache_file.is_file():
        with np.load(cache_file) as data:
            known = {key: data[key] for key in data.files}
    wanted = list(dict.fromkeys(texts))
    missing = [t for t in wanted if text_key(t) not in known]
    if missing:
        chunks = range(0, len(missing), 256)
        if progress:
            from tqdm import tqdm

            chunks = tqdm(chunks, desc="embedding sentences", unit="x256")
        for start in chunks:
            part = missing[start:start + 256]
            for text, vector in zip(part, encoder.embed_uncached(part)):
                known[text_key(text)] = vector
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(cache_file.name + ".tmp.npz")
        np.savez(tmp, **known)
        os.replace(tmp, cache_file)
    return {t: known[text_key(t)] for t in wanted}
