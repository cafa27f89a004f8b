"""Frozen all-MiniLM-L6-v2 sentence embeddings without torch, cached per sentence.

Why not torch/transformers by default: the gate must load in well under two seconds on a busy
laptop CPU, and importing torch + transformers alone takes several seconds (tens of seconds on a
loaded 2-core machine). MiniLM-L6 is a small BERT (6 layers, 384 wide): the tokenizer is the
`tokenizers` (Rust) one read from the model's own tokenizer.json, the weights come from its
safetensors file, the embedding layer is a numpy look-up (`minilm.py`), and the six transformer
blocks run on ONNX Runtime (`encoder_onnx.py`, about 6 ms for one short sentence on two cores) or,
where it is missing or rejects the graph, on transformers' own BertModel (`encoder_torch.py`).
`tests/gate/test_encoder.py` checks that both give the embeddings transformers gave when the gate
was trained.

The gate never fine-tunes the encoder: each observation sentence and each task is embedded once
(mean pooling + L2 normalisation, as sentence-transformers does) and a small head reads the
embeddings. Observations repeat from one gate call to the next (the history grows by one event),
so an LRU cache makes a call cost one short task sentence plus at most one new event; training
reads a disk cache (`embed_file`) so the data set is embedded once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from companion.gate.minilm import DIM, load_weights
from companion.models import minilm_dir

MAX_TOKENS = 128  # observations and tasks are one sentence; longer ones are cut
RUNTIMES = ("auto", "onnx", "torch")

log = logging.getLogger(__name__)


class EncoderUnavailable(RuntimeError):
    """The asked-for encoder runtime cannot run here; the message says what to install or set."""


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def default_threads() -> int:
    """Two threads where there are two cores: one short sentence took 6 ms instead of 10 ms with
    ONNX Runtime. More cost more hand-offs than they save for a
    model this small, and leave no core to the editor and the agent."""
    return max(1, min(2, os.cpu_count() or 1))


def load_blocks(model_dir: Path, threads: int, runtime: str = "auto"):  # noqa: ANN201
    """The transformer blocks on `runtime`: "onnx", "torch", or "auto" (ONNX Runtime when it is
    installed and accepts the graph, transformers' BertModel otherwise, with a log line saying so)."""
    if runtime not in RUNTIMES:
        raise EncoderUnavailable(f"unknown encoder runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}")
    if runtime in ("auto", "onnx"):
        try:
            from companion.gate.encoder_onnx import OnnxBlocks

            return OnnxBlocks(load_weights(model_dir), threads)
        except ImportError as exc:
            if runtime == "onnx":
                raise EncoderUnavailable(f"the onnx encoder runtime needs onnxruntime and onnx ({exc}); "
                                         "`pip install onnxruntime onnx`, or set [gate] encoder = \"torch\"") from exc
            log.info("ONNX Runtime is not installed (%s): the gate's encoder runs on torch", exc)
        except Exception as exc:  # noqa: BLE001 - an ONNX Runtime build that rejects the graph: torch still works
            if runtime == "onnx":
                raise EncoderUnavailable(f"ONNX Runtime could not build the encoder: {exc}; "
                                         "set [gate] encoder = \"torch\"") from exc
            log.warning("ONNX Runtime could not build the encoder (%s): it runs on torch", exc)
    from companion.gate.encoder_torch import TorchBlocks

    return TorchBlocks(threads, model_dir)


class SentenceEncoder:
    """MiniLM-L6 as a sentence encoder with an LRU cache of sentences."""

    def __init__(self, model_dir: str | Path | None = None, cache_size: int = 4096, threads: int | None = None,
                 runtime: str = "auto") -> None:
        from tokenizers import Tokenizer

        path = Path(model_dir or minilm_dir())
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self.threads = threads or default_threads()
        self.blocks = load_blocks(path, self.threads, runtime)
        self.runtime: str = self.blocks.runtime  # the one that runs: "auto" resolved
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean-pooled, normalised embeddings of a padded (batch, length) id matrix."""
        states = self.blocks(ids, mask)
        weight = mask[:, :, None].astype(np.float32)
        pooled = (states * weight).sum(1) / np.maximum(weight.sum(1), 1e-9)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)).astype(np.float32)

    def embed_uncached(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # batch similar lengths
        result = np.zeros((len(texts), DIM), np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            length = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), length), np.int64)
            mask = np.zeros((len(chunk), length), np.int32)
            for row, i in enumerate(chunk):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
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
