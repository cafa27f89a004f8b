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

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from companion.models import minilm_dir

DIM = 384
MAX_TOKENS = 128  # observations and tasks are one sentence; longer ones are cut
LAYERS = 6
HEADS = 12
EPS = 1e-12


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf and BERT's GELU needs it."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0, dtype=x.dtype)))


def _blas_thread_setter() -> Callable[[int], int] | None:
    """OpenBLAS's per-thread thread-count setter from numpy's bundled library, if there is one.

    numpy's OpenBLAS starts one thread per core and spins; on a busy machine (or inside a daemon
    that shares the CPU with an editor and a language model) that makes a 20 ms matrix product
    take seconds. The encoder runs its products single-threaded on the calling thread only
    (`openblas_set_num_threads_local`), leaving numpy's setting for everyone else untouched.
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


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * weight + bias


class SentenceEncoder:
    """MiniLM-L6 as a sentence encoder (numpy forward pass) with an LRU cache of sentences."""

    def __init__(self, model_dir: str | Path | None = None, cache_size: int = 4096, threads: int = 1) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = Path(model_dir or minilm_dir())
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self.w = load_file(str(path / "model.safetensors"))
        for layer in range(LAYERS):
            p = f"encoder.layer.{layer}."
            # fuse q, k, v into one product per layer, and store every matrix as (in, out), contiguous:
            # OpenBLAS multiplies a short sentence by a contiguous matrix ~25 % faster than by a
            # transposed view
            self.w[p + "attention.self.qkv.weight"] = np.concatenate(
                [self.w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]).T.copy()
            self.w[p + "attention.self.qkv.bias"] = np.concatenate(
                [self.w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            for dense in ("attention.output.dense", "intermediate.dense", "output.dense"):
                self.w[p + dense + ".weight_in_out"] = np.ascontiguousarray(self.w[p + dense + ".weight"].T)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self.threads = threads
        self._set_blas_threads = _blas_thread_setter()
        self._lock = threading.Lock()

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean-pooled, normalised embeddings of a padded (batch, length) id matrix."""
        w = self.w
        batch, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        head_dim = DIM // HEADS
        additive = ((1.0 - mask[:, None, None, :]) * -1e9).astype(np.float32)
        for layer in range(LAYERS):
            p = f"encoder.layer.{layer}."
            qkv = x @ w[p + "attention.self.qkv.weight"] + w[p + "attention.self.qkv.bias"]
            qkv = qkv.reshape(batch, length, 3, HEADS, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head_dim)) + additive
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, DIM)
            attn = context @ w[p + "attention.output.dense.weight_in_out"] + w[p + "attention.output.dense.bias"]
            x = _layer_norm(x + attn, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            hidden = _gelu(x @ w[p + "intermediate.dense.weight_in_out"] + w[p + "intermediate.dense.bias"])
            out = hidden @ w[p + "output.dense.weight_in_out"] + w[p + "output.dense.bias"]
            x = _layer_norm(x + out, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        m = mask[:, :, None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)).astype(np.float32)

    def embed_uncached(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if self._set_blas_threads is None:
            return self._embed_batches(texts, batch_size)
        previous = self._set_blas_threads(self.threads)
        try:
            return self._embed_batches(texts, batch_size)
        finally:
            self._set_blas_threads(previous if previous > 0 else 0)

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
