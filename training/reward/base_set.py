"""ProactiveBench's reward training rows, shipped compactly so retraining works on a fresh install.

`companion train reward` retrains on the base data plus the user's outcomes, so the base data must
travel with the package. It is stored as one list of distinct sentences (events and tasks), rows
that point into it (with the annotators' `help_needed` and votes, which the gate's judgement
memory reads), and the sentences' MiniLM embeddings in float16 (1.3 MB) — the encoder never
has to re-read 1,600 rows on a laptop. ProactiveBench is Apache-2.0 (see
PROACTIVEBENCH_LICENSE.md next to this file).

    python -m training.reward.base_set PATH/reward_train.jsonl   # rebuild both files
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

from companion.gate.data import RewardRow, read_rows

HERE = Path(__file__).resolve().parent
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


def build(source: str | Path, cache: str | Path = HERE.parents[1] / ".cache" / "gate-embeddings.npz") -> None:
    from safetensors.numpy import save_file

    from companion.gate.encoder import SentenceEncoder, embed_file

    rows, problems = read_rows(source)
    for line, problem in problems:
        print(f"{source}:{line}: skipped: {problem}", file=sys.stderr)
    index: dict[str, int] = {}
    for row in rows:
        for o in row.obs:
            index.setdefault(o["event"], len(index))
        if row.task:
            index.setdefault(row.task, len(index))
    texts = list(index)
    packed = {"source": "ProactiveBench reward_train.jsonl (thunlp/ProactiveAgent, Apache-2.0)",
              "texts": texts,
              "rows": [[[index[o["event"]] for o in r.obs], [o["time"] for o in r.obs],
                        index[r.task] if r.task else -1, int(r.valid),
                        -1 if r.help_needed is None else int(r.help_needed),
                        "".join("1" if v else "0" for v in r.votes or ())] for r in rows]}
    ROWS_FILE.write_text(json.dumps(packed, ensure_ascii=False, separators=(",", ":")))
    vectors = embed_file(SentenceEncoder(), texts, cache, progress=True)
    matrix = np.stack([vectors[t] for t in texts])
    save_file({"embeddings": matrix.astype(np.float16)}, str(EMBEDDINGS_FILE))
    _embeddings.cache_clear()
    print(f"{len(rows)} rows, {len(texts)} sentences -> {ROWS_FILE.name}, {EMBEDDINGS_FILE.name}")


if __name__ == "__main__":
    build(sys.argv[1])
