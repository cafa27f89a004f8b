"""MiniLM on transformers' own BertModel: the encoder's fallback runtime.

Used when ONNX Runtime is missing (it has no wheel for every platform) or rejects the graph, or
when `[gate] encoder = "torch"` asks for it. torch and transformers are dependencies anyway, so
the well-kept implementation is the fallback rather than a hand-written one; the price is
importing torch (about 5 s on a busy 2-core machine) when the fallback is first needed. It reads
the same folder and gives the embeddings the heads were trained on (tests/gate/test_encoder.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class TorchBlocks:
    """`BertModel` without its pooler: token ids and mask in, hidden states out."""

    runtime = "torch"

    def __init__(self, threads: int, model_dir: Path) -> None:
        import torch
        from transformers import BertModel
        from transformers.utils import logging as transformers_logging

        self._torch = torch
        torch.set_num_threads(threads)
        verbosity, bars = transformers_logging.get_verbosity(), transformers_logging.is_progress_bar_enabled()
        transformers_logging.set_verbosity_error()  # the unused pooler weights are expected, not news
        transformers_logging.disable_progress_bar()
        try:
            self.model = BertModel.from_pretrained(str(model_dir), add_pooling_layer=False)
        finally:
            transformers_logging.set_verbosity(verbosity)
            if bars:
                transformers_logging.enable_progress_bar()
        self.model.eval()

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            output = self.model(input_ids=torch.from_numpy(ids.astype(np.int64)),
                                attention_mask=torch.from_numpy(mask.astype(np.int64)))
            return output.last_hidden_state.float().numpy()
