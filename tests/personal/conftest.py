"""Fixtures of the personalisation tests: a private models folder (so adapters, SVD plans and
exports written by one test never leak into the shared model cache) that still reuses the
converted default model, and a store filled with real proposals and outcomes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest


@pytest.fixture
def private_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from companion.agent import smollm

    shared = smollm.ensure_converted()  # converted once into the shared cache
    folder = tmp_path / "models"
    folder.mkdir()
    os.symlink(shared, folder / smollm.MODEL_NAME)
    monkeypatch.setenv("COMPANION_MODELS_DIR", str(folder))
    return folder


def fill_store(store, workspace: str, answers: list[tuple[str, str, str]]) -> list[str]:
    """Store one shell event and one proposal per (command output, task, outcome); returns ids."""
    from companion.events import Event
    from companion.proposals import Outcome, Proposal

    ids = []
    now = time.time() - 3600
    for number, (text, task, outcome) in enumerate(answers):
        event = Event(source="shell", kind="shell.command", workspace=workspace, ts=now + number * 60,
                      data={"command": text, "cwd": workspace, "exit_code": 1, "duration_s": 1.5})
        store.add_events([event])
        proposal = Proposal(task=task, response=f"Try this for step {number}.", operation="explain",
                            purpose="Get the tests passing.", thoughts="The command failed.",
                            event_ids=[event.id], workspace=workspace, ts=now + number * 60 + 5)
        store.save_proposal(proposal)
        store.record_outcome(Outcome(proposal.id, outcome, answer_s=4.0, via="cli", ts=now + number * 60 + 9))
        ids.append(proposal.id)
    return ids
