"""ProactiveBench's reward rows, shipped compactly with the package: the gate's judgement memory reads
them at run time and `companion train reward` retrains on them plus the user's outcomes.

Stored as one list of distinct sentences (events and tasks), rows that point into it (with the
annotators' `help_needed` and votes, which the judgement memory reads), and the sentences' MiniLM
embeddings in float16 (1.3 MB), so the encoder never has to re-read 1,600 rows on a laptop.
ProactiveBench is Apache-2.0 (see base_data/PROACTIVEBENCH_LICENSE.md). The files are rebuilt by
`python -m training.reward.base_set PATH/reward_train.jsonl`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from companion.gate.reward_data import RewardRow

HERE = Path(__file__).resolve().parent / "base_data"
ROWS_FILE = HERE / "base_set.json"
EMBEDDINGS_FILE = HERE / "base_embeddings.safetensors"


def load_rows() -> list[RewardRow]:
    if not ROWS_FILE.is_file():
        raise FileNotFoundError(f"{ROWS_FILE} is missing; rebuild it with `python -m training.reward.base_set DATA.jsonl`")
    packed = json.loads(ROWS_FILE.read_text())
    texts = packed["texts"]
    rows = []
    for obs, times, task, valid, *annotations in packed["rows"]:
        help_needed, votes = annotations if annotations else (-1, "")
        rows.append(RewardRow(tuple({"time": t, "event": texts[i]} for i, t in zip(obs, times)),
                              texts[task] if task >= 0 else None, bool(valid),
                              help_needed=None if help_needed < 0 else bool(help_needed),
                              votes=tuple(v == "1" for v in votes) or None))
    return rows


@lru_cache(maxsize=1)
def _embeddings() -> tuple[tuple[str, ...], np.ndarray]:
    from safetensors.numpy import load_file

    if not EMBEDDINGS_FILE.is_file():
        return (), np.zeros((0, 384), np.float32)
    texts = tuple(json.loads(ROWS_FILE.read_text())["texts"])
    return texts, load_file(str(EMBEDDINGS_FILE))["embeddings"].astype(np.float32)


def load_embeddings() -> dict[str, np.ndarray]:
    texts, matrix = _embeddings()
    return dict(zip(texts, matrix))
