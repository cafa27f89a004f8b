"""MiniLM's six transformer blocks in plain numpy: the encoder's fallback runtime.

Used where ONNX Runtime is not installed (it has no wheel for every platform) or when
`[gate] encoder = "numpy"` asks for it. It gives the same embeddings (2e-7) at about three times
the time of the ONNX runtime for one sentence, so it meets the gate's load target but not its
20 ms per pair. GELU lives here too: the gate's heads use the same exact GELU.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from companion.gate.minilm import HEAD_DIM, HEADS, LAYERS, Weights, block_weight, fused_qkv, layer_norm


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
    take seconds. The blocks keep OpenBLAS single-threaded on their own threads only
    (`openblas_set_num_threads_local`) and split the products themselves (NumpyBlocks._shard),
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


def _single_threaded_blas() -> int:
    setter = _blas_thread_setter()
    return setter(1) if setter is not None else 0


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


def _feed_forward_part(x: np.ndarray, shard: dict[str, np.ndarray]) -> np.ndarray:
    """This shard's neurons: GELU(x W1 + b1) for them, times their rows of the second matrix."""
    return gelu(x @ shard["up"] + shard["up_bias"]) @ shard["down"]


class NumpyBlocks:
    """The blocks split into `threads` shards, run by the calling thread and a small pool."""

    runtime = "numpy"

    def __init__(self, weights: Weights, threads: int) -> None:
        self.threads = threads
        self._norms = [{name: block_weight(weights, layer, name) for name in (
            "attention.output.dense.bias", "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
            "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias")} for layer in range(LAYERS)]
        self.shards = [self._shard(weights, index) for index in range(threads)]
        self._pool = (ThreadPoolExecutor(threads - 1, thread_name_prefix="minilm", initializer=_single_threaded_blas)
                      if threads > 1 else None)

    def _shard(self, weights: Weights, index: int) -> list[dict[str, np.ndarray]]:
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
        width = block_weight(weights, 0, "intermediate.dense.bias").shape[0]
        neurons = np.array_split(np.arange(width), self.threads)[index]
        layers = []
        for layer in range(LAYERS):
            qkv, qkv_bias = fused_qkv(weights, layer, dims)
            layers.append({
                "qkv": qkv,
                "qkv_bias": qkv_bias,
                "attention_out": np.ascontiguousarray(block_weight(weights, layer, "attention.output.dense.weight")[:, dims].T),
                "up": np.ascontiguousarray(block_weight(weights, layer, "intermediate.dense.weight")[neurons].T),
                "up_bias": block_weight(weights, layer, "intermediate.dense.bias")[neurons].copy(),
                "down": np.ascontiguousarray(block_weight(weights, layer, "output.dense.weight")[:, neurons].T),
            })
        return layers

    def _sharded(self, part, layer: int, *args: np.ndarray) -> np.ndarray:  # noqa: ANN001 - one of the two parts
        """Sum of `part` over the shards of `layer`: the first on this thread, the others on the pool."""
        first, *others = [shard[layer] for shard in self.shards]
        pending = [self._pool.submit(part, args[0], other, *args[1:]) for other in others] if self._pool else []
        total = part(args[0], first, *args[1:])
        for future in pending:
            total += future.result()
        return total

    def __call__(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        setter = _blas_thread_setter()
        previous = setter(1) if setter is not None else 0  # the parallelism is ours, never OpenBLAS's spinning threads
        try:
            return self._blocks(hidden, mask)
        finally:
            if setter is not None:
                setter(previous if previous > 0 else 0)

    def _blocks(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        additive = ((1.0 - mask[:, None, None, :].astype(np.float32)) * -1e9).astype(np.float32)
        for layer, norms in enumerate(self._norms):
            attention = self._sharded(_attention_part, layer, x, additive) + norms["attention.output.dense.bias"]
            x = layer_norm(x + attention, norms["attention.output.LayerNorm.weight"], norms["attention.output.LayerNorm.bias"])
            out = self._sharded(_feed_forward_part, layer, x) + norms["output.dense.bias"]
            x = layer_norm(x + out, norms["output.LayerNorm.weight"], norms["output.LayerNorm.bias"])
        return x
