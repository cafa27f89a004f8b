"""The gate's trained part: two small ensembles of one-hidden-layer MLPs, run in numpy.

The shipped file holds, for each head ("silence" for null tasks, "task" for proposals, and the
optional coding heads of the same two kinds), the stacked weights of E members: w1 (E, in,
hidden), b1 (E, hidden), w2 (E, hidden), b2 (E,). The score is the mean of the members'
probabilities. Two optional logistic heads ("memory_silence", "memory_task": w (in,), b (1,))
weigh what the judgement memory recalls (companion/gate/memory.py) together with those scores.
Training (torch) lives in training/reward/; this module only reads the safetensors file, so
scoring needs neither torch nor transformers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


HEADS = ("silence", "task")
# Optional heads for coding moments with evidence (the candidate's `Evidence: …` line last): trained
# on the moments benchmark's labelled candidates (training/reward/moments.py), they tell right help
# from generic help where ProactiveBench's heads see only that something needs help.
CODING_HEADS = {"silence": "coding_silence", "task": "coding_task"}
MEMORY_HEADS = ("memory_silence", "memory_task")  # optional: logistic heads over the judgement memory
WEIGHTS_FILE = "gate_heads.safetensors"
CARD_FILE = "card.json"


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


@dataclass
class MlpEnsemble:
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(n, in) -> (E, n) member logits."""
        hidden = gelu(np.einsum("ni,eih->enh", x, self.w1) + self.b1[:, None, :])
        return np.einsum("enh,eh->en", hidden, self.w2) + self.b2[:, None]

    def probability(self, x: np.ndarray) -> np.ndarray:
        return (1.0 / (1.0 + np.exp(-self.logits(np.atleast_2d(x))))).mean(0)


@dataclass
class LogisticHead:
    """sigmoid(x @ w + b): the memory heads, which weigh a handful of recalled facts."""

    w: np.ndarray
    b: np.ndarray

    def logit(self, x: np.ndarray) -> np.ndarray:
        return np.atleast_2d(x) @ self.w + self.b[0]

    def probability(self, x: np.ndarray, offset: float = 0.0) -> np.ndarray:
        """`offset` (a logit) places the scores on another scale: see companion/gate/memory.py."""
        return 1.0 / (1.0 + np.exp(-(self.logit(x) + offset)))


def save_heads(folder: str | Path, heads: dict[str, dict[str, np.ndarray]], card: dict[str, Any]) -> Path:
    """Write the weights (safetensors) and the card (JSON: config, CV metrics, thresholds)."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"{head}.{name}": np.ascontiguousarray(value, dtype=np.float32)
               for head, params in heads.items() for name, value in params.items()}
    save_file(tensors, str(folder / WEIGHTS_FILE), metadata={"format": "companion-gate-heads-v1"})
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return folder


def read_tensors(folder: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """The weights file of `folder` as {head: {name: array}} (what `save_heads` takes)."""
    from safetensors.numpy import load_file

    heads: dict[str, dict[str, np.ndarray]] = {}
    for key, value in load_file(str(Path(folder) / WEIGHTS_FILE)).items():
        head, name = key.rsplit(".", 1)
        heads.setdefault(head, {})[name] = value
    return heads


def load_heads(folder: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from safetensors.numpy import load_file

    folder = Path(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"no gate weights in {folder} (expected {WEIGHTS_FILE})")
    tensors = load_file(str(weights))

    def ensemble(head: str) -> MlpEnsemble:
        return MlpEnsemble(*(tensors[f"{head}.{n}"] for n in ("w1", "b1", "w2", "b2")))

    heads = {}
    for head in HEADS:
        try:
            heads[head] = ensemble(head)
        except KeyError as exc:
            raise ValueError(f"{weights} lacks the {head} head ({exc})") from None
    for head in CODING_HEADS.values():  # weights trained without coding moments lack them
        if f"{head}.w1" in tensors:
            heads[head] = ensemble(head)
    for head in MEMORY_HEADS:  # weights trained before the memory existed simply lack them
        if f"{head}.w" in tensors:
            heads[head] = LogisticHead(tensors[f"{head}.w"], tensors[f"{head}.b"])
    card_path = folder / CARD_FILE
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    return heads, card
