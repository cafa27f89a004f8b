"""Gate tests keep personal models in their own folder, never in the shared model cache."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("COMPANION_MODELS_DIR", str(folder))
    return folder
