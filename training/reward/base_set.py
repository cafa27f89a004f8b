"""Rebuild the packed ProactiveBench base rows and their embeddings (companion/gate/base_set.py reads them).

    python -m training.reward.base_set PATH/reward_train.jsonl   # rebuild both files
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from companion.gate.base_set import EMBEDDINGS_FILE, ROWS_FILE, _embeddings
from companion.gate.reward_data import read_rows


def build(source: str | Path, cache: str | Path | None = None) -> None:
    """Pack `source`'s rows and embed their sentences; `cache` (the sentence-embedding cache the
    trainer shares) defaults to `.cache/` of a source checkout, else companion's cache folder."""
    from safetensors.numpy import save_file

    from companion.gate.encoder import SentenceEncoder, embed_file
    from training.reward.train import embeddings_cache

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
    vectors = embed_file(SentenceEncoder(), texts, cache or embeddings_cache(), progress=True)
    matrix = np.stack([vectors[t] for t in texts])
    save_file({"embeddings": matrix.astype(np.float16)}, str(EMBEDDINGS_FILE))
    _embeddings.cache_clear()
    print(f"{len(rows)} rows, {len(texts)} sentences -> {ROWS_FILE.name}, {EMBEDDINGS_FILE.name}")


if __name__ == "__main__":
    build(sys.argv[1])
