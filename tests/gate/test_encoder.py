"""The gate's MiniLM encoder on both runtimes: ONNX Runtime (the default) and numpy (the fallback
where onnxruntime is missing). Both must give the embeddings the shipped heads were trained on
(computed with transformers' BertModel), agree with each other on padded batches, and a missing
or unknown runtime must say what to do instead of failing deep inside the daemon."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from companion.config import Config, ConfigError, load_config
from companion.gate import GateUnavailable, load_gate
from companion.gate.checks import gate_encoder
from companion.gate.encoder import MAX_TOKENS, EncoderUnavailable, SentenceEncoder
from companion.gate import base_set

pytestmark = pytest.mark.slow  # loads MiniLM

TEXTS = [
    "x",
    "The user runs 'pytest tests/test_parser.py' in the terminal; 3 tests fail with AssertionError.",
    "Fix the failing test",
    "Überprüfe die Konfiguration — 设置 ✓",
    " ".join(["token"] * (MAX_TOKENS * 2)),  # cut at MAX_TOKENS
]


@pytest.fixture(scope="module", params=["onnx", "torch"])
def encoder(request: pytest.FixtureRequest) -> SentenceEncoder:
    return SentenceEncoder(runtime=request.param)


def test_each_runtime_gives_the_embeddings_the_gate_was_trained_on(encoder: SentenceEncoder) -> None:
    assert encoder.runtime in ("onnx", "torch")
    shipped = base_set.load_embeddings()  # float16 copies of transformers' embeddings
    texts = list(shipped)[::120]
    for text, vector in zip(texts, encoder.embed_uncached(texts)):
        assert np.abs(vector - shipped[text]).max() < 2e-3
        assert float(vector @ shipped[text]) > 0.9999


def test_a_padded_batch_gives_what_each_sentence_gives_alone(encoder: SentenceEncoder) -> None:
    together = encoder.embed_uncached(TEXTS)
    alone = np.stack([encoder.embed_uncached([text])[0] for text in TEXTS])
    np.testing.assert_allclose(together, alone, atol=2e-6)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert len({tuple(np.round(v, 4)) for v in together}) == len(TEXTS)  # padding did not blur sentences together


def test_the_two_runtimes_agree() -> None:
    fast, slow = SentenceEncoder(runtime="onnx"), SentenceEncoder(runtime="torch")
    np.testing.assert_allclose(fast.embed_uncached(TEXTS), slow.embed_uncached(TEXTS), atol=2e-6)
    assert fast.embed([]).shape == (0, 384)


def test_without_onnxruntime_auto_falls_back_and_onnx_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # importing it now raises ImportError
    fallback = SentenceEncoder(runtime="auto")
    assert fallback.runtime == "torch"
    assert fallback.embed(["Fix the failing test"]).shape == (1, 384)
    with pytest.raises(EncoderUnavailable, match="pip install onnxruntime"):
        SentenceEncoder(runtime="onnx")
    config = Config()
    config.gate.encoder = "onnx"
    with pytest.raises(GateUnavailable, match="onnxruntime"):
        load_gate(config)


def test_an_onnx_runtime_that_rejects_the_graph_leaves_the_torch_encoder(monkeypatch: pytest.MonkeyPatch,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    import companion.gate.encoder_onnx as encoder_onnx

    monkeypatch.setattr(encoder_onnx, "OPSET", 999)  # an opset no ONNX Runtime knows: session creation fails
    with caplog.at_level("WARNING"):
        fallback = SentenceEncoder(runtime="auto")
    assert fallback.runtime == "torch" and "could not build the encoder" in caplog.text
    with pytest.raises(EncoderUnavailable, match="could not build"):
        SentenceEncoder(runtime="onnx")


def test_gate_encoder_setting_is_checked_and_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EncoderUnavailable, match="unknown encoder runtime"):
        SentenceEncoder(runtime="cuda")
    with pytest.raises(ConfigError, match="gate.encoder"):
        load_config(tmp_path, environ={"COMPANION_GATE_ENCODER": "cuda"})
    assert "ONNX Runtime" in gate_encoder(tmp_path).detail
    monkeypatch.setenv("COMPANION_GATE_ENCODER", "torch")
    assert gate_encoder(tmp_path).detail.startswith("torch")
    monkeypatch.setenv("COMPANION_GATE_ENCODER", "onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    result = gate_encoder(tmp_path)
    assert not result.ok and "pip install onnxruntime" in result.detail
