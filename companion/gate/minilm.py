"""all-MiniLM-L6-v2's shape and its embedding layer, for the encoder's ONNX Runtime graph.

The ONNX runtime (`encoder_onnx.py`) runs MiniLM in two steps: the token embeddings (a table
look-up and a layer norm, cheap in numpy) and the six transformer blocks (where the time goes),
built from the same safetensors weights by the names and shapes defined here. The torch fallback
(`encoder_torch.py`) is transformers' own BertModel and needs none of this.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DIM = 384
LAYERS = 6
HEADS = 12
HEAD_DIM = DIM // HEADS
EPS = 1e-12

Weights = dict[str, np.ndarray]


def load_weights(model_dir: Path) -> Weights:
    from safetensors.numpy import load_file

    return load_file(str(model_dir / "model.safetensors"))


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * weight + bias


def embed_tokens(weights: Weights, ids: np.ndarray) -> np.ndarray:
    """BERT's input layer for a padded (batch, length) id matrix: word + position + token-type
    embeddings, layer-normalised; float32 (batch, length, DIM)."""
    length = ids.shape[1]
    x = (weights["embeddings.word_embeddings.weight"][ids] + weights["embeddings.position_embeddings.weight"][:length]
         + weights["embeddings.token_type_embeddings.weight"][0])
    return layer_norm(x, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"]).astype(np.float32)


def block_weight(weights: Weights, layer: int, name: str) -> np.ndarray:
    """One block's weight by its short name, e.g. `block_weight(w, 2, "intermediate.dense.bias")`."""
    return weights[f"encoder.layer.{layer}.{name}"]


def fused_qkv(weights: Weights, layer: int, rows: np.ndarray | slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
    """The query, key and value projections of `layer` fused into one (DIM, 3·len(rows)) matrix for
    `x @ matrix` and its bias; `rows` picks output dimensions (a shard's heads)."""
    parts = [f"attention.self.{name}" for name in ("query", "key", "value")]
    matrix = np.concatenate([block_weight(weights, layer, part + ".weight")[rows] for part in parts]).T
    bias = np.concatenate([block_weight(weights, layer, part + ".bias")[rows] for part in parts])
    return np.ascontiguousarray(matrix), bias
