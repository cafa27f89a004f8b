"""The Q8_0 file with the adapter folded in (companion/agent/gguf_merge.py) answers like the packaged
Q4_1 with the same adapter applied by llama.cpp at run time, is built once, stays private, and a
broken adapter is a clear BackendUnavailable rather than a crash."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from companion.agent.backends import BackendUnavailable
from companion.agent.gguf_merge import fast_model, lora_deltas
from companion.models import smollm2_gguf

SHIPPED_LORA = Path(__file__).resolve().parents[2] / "companion" / "agent" / "adapter" / "adapter.gguf"
PROMPT = ("<|im_start|>user\nThe user ran `pytest tests/test_parser.py`; it failed with "
          "NameError: name 'nme' is not defined.<|im_end|>\n<|im_start|>assistant\n")


def last_logits(model: Path, lora: Path | None = None) -> np.ndarray:
    from llama_cpp import Llama

    llm = Llama(model_path=str(model), n_ctx=256, n_threads=1, verbose=False,
                lora_path=str(lora) if lora is not None else None)
    ids = llm.tokenize(PROMPT.encode(), add_bos=False, special=True)
    llm.eval(ids)
    logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()
    llm.close()
    return logits


@pytest.mark.slow
@pytest.mark.usefixtures("needs_llama_cpp")
def test_the_merged_q8_file_moves_the_logits_as_the_run_time_lora_does(tmp_path: Path) -> None:
    packaged = smollm2_gguf()
    merged = fast_model(packaged, SHIPPED_LORA, tmp_path / "cache")
    plain = fast_model(packaged, None, tmp_path / "cache")
    assert merged != plain and merged.name.endswith(".Q8_0.gguf")

    base = last_logits(packaged)
    run_time = last_logits(packaged, SHIPPED_LORA)
    folded = last_logits(merged)
    requantised = last_logits(plain)
    # the adapter's effect survives the merge: measured 0.99 and 6 % here; with q's delta transposed
    # 0.94 and 25 %, without q's delta 0.93 and 32 %, at half the scale 0.89 and 68 %
    by_lora, by_merge = run_time - base, folded - requantised
    assert np.corrcoef(by_lora, by_merge)[0, 1] > 0.97
    assert np.abs(by_lora - by_merge).mean() < 0.12 * np.abs(by_lora).mean()
    # ... and the Q8_0 copy keeps the Q4_1 weights: the same next token, nearly the same logits
    assert int(np.argmax(requantised)) == int(np.argmax(base))
    assert np.corrcoef(base, requantised)[0, 1] > 0.999
    assert int(np.argmax(folded)) == int(np.argmax(run_time))


def test_the_file_is_built_once_and_private(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = fast_model(smollm2_gguf(), SHIPPED_LORA, cache)
    built = first.stat().st_mtime_ns
    assert fast_model(smollm2_gguf(), SHIPPED_LORA, cache) == first and first.stat().st_mtime_ns == built
    assert stat.S_IMODE(first.stat().st_mode) == 0o600 and stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert sorted(p.name for p in cache.iterdir()) == [first.name, first.name + ".json"]  # no partial files left
    assert stat.S_IMODE((cache / (first.name + ".json")).stat().st_mode) == 0o600

    import gguf

    reader = gguf.GGUFReader(str(first))
    kinds = {t.tensor_type for t in reader.tensors if len(t.shape) >= 2}
    assert kinds == {gguf.GGMLQuantizationType.Q8_0}
    assert not any(".lora_" in t.name for t in reader.tensors)
    assert str(reader.fields["tokenizer.chat_template"].contents()).startswith("{% for message in messages %}")


def test_a_delta_is_scaled_b_times_a(tmp_path: Path) -> None:
    deltas = lora_deltas(SHIPPED_LORA)
    assert set(deltas) and all(name.startswith("blk.") and name.endswith(".weight") for name in deltas)
    q = deltas["blk.0.attn_q.weight"]
    assert q.shape == (576, 576) and np.linalg.matrix_rank(q) <= 8 and np.abs(q).max() > 0


def test_an_adapter_that_is_not_a_lora_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a gguf at all" * 10)
    with pytest.raises(ValueError, match="GGUF"):
        fast_model(smollm2_gguf(), garbage, tmp_path / "cache")
    with pytest.raises(ValueError, match="not a GGUF LoRA adapter"):
        fast_model(smollm2_gguf(), smollm2_gguf(), tmp_path / "cache")  # a model, not an adapter
    assert not any((tmp_path / "cache").glob("*.tmp"))


@pytest.mark.usefixtures("needs_llama_cpp")
def test_a_corrupt_adapter_folder_is_backend_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from companion.agent.backends.llama_cpp import LlamaCppBackend

    monkeypatch.setenv("COMPANION_MODELS_DIR", str(tmp_path / "models"))
    folder = tmp_path / "adapter"
    shutil.copytree(SHIPPED_LORA.parent, folder)
    (folder / "adapter.gguf").unlink()  # converted again from the (now broken) weights
    (folder / "adapter_model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(BackendUnavailable, match="could not prepare SmolLM2-135M-Instruct.Q4_1.gguf"):
        LlamaCppBackend(adapter=folder, threads=1)
