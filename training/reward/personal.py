"""Personal retraining of the reward gate from the user's own answers (`companion train reward`).

A user outcome becomes a reward row: the observations that led to the proposal (its events,
rendered with `companion.render.observation`), the task, and valid = accepted (rejected and
ignored = not valid; snoozed says nothing and is skipped). A held-out part of those rows (30 %,
stratified) judges the new model against the current one; the new model replaces it only if it is
not worse there. The replaced model is kept in `previous/`, and `rollback()` brings it back.

Layout under `companion.paths.models_dir()/gate/`: `current/` (used by the reward gate when
present), `previous/` (the one before; holds a SHIPPED marker when that was the packaged
model), `embeddings.npz` (sentence cache).
"""

from __future__ import annotations

import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from companion.gate.reward_data import RewardRow
from companion.gate.metrics import score_judgements
from companion.gate.reward import SHIPPED_DIR, RewardGate, personal_dir
from training.reward.budget import BudgetExceeded  # noqa: F401 - what `retrain` raises past its budget
from training.reward.train import RewardTrainConfig, main as train_main

MIN_OUTCOMES = 20  # below this, a held-out part is too small to tell a better model from luck
MIN_PER_SIDE = 5  # accepted and not-accepted answers each
HOLDOUT = 0.3
DEFAULT_BUDGET_S = 600.0  # a personal run takes a few minutes (docs/reward-gate.md); ten leaves room for a loaded machine
SHIPPED_MARKER = "SHIPPED"


class NotEnoughOutcomes(RuntimeError):
    def __init__(self, have: int, accepted: int, other: int) -> None:
        more = max(MIN_OUTCOMES - have, MIN_PER_SIDE - accepted, MIN_PER_SIDE - other, 0)
        need = []
        if have < MIN_OUTCOMES:
            need.append(f"{MIN_OUTCOMES - have} more answered proposals")
        if accepted < MIN_PER_SIDE:
            need.append(f"{MIN_PER_SIDE - accepted} more accepted")
        if other < MIN_PER_SIDE:
            need.append(f"{MIN_PER_SIDE - other} more rejected or ignored")
        super().__init__(f"not enough of your answers to retrain yet: {have} usable ({accepted} accepted, {other} "
                         f"rejected/ignored); needs {', '.join(need)}")
        self.more = more


def outcome_rows(store: Any, workspace: str | None = None) -> list[RewardRow]:
    """One row per answered proposal (its last answer), oldest first."""
    from companion.render import observation

    last: dict[str, tuple[Any, Any]] = {}
    for proposal, outcome in store.outcomes(workspace=workspace):
        if outcome.outcome != "snoozed":
            last[proposal.id] = (proposal, outcome)
    rows = []
    for proposal, outcome in last.values():
        events = store.events(ids=proposal.event_ids) if proposal.event_ids else []
        if not events:
            continue  # the events were pruned or forgotten: nothing to learn the context from
        rows.append(RewardRow(tuple(observation(e) for e in events), proposal.task or None, outcome.outcome == "accepted"))
    return rows


def split_holdout(rows: Sequence[RewardRow], seed: int) -> tuple[list[RewardRow], list[RewardRow]]:
    """(train, held out), stratified by the answer so both sides are in the held-out part."""
    rng = random.Random(seed)
    train, held = [], []
    for side in (True, False):
        part = [r for r in rows if r.valid is side]
        rng.shuffle(part)
        cut = max(1, round(len(part) * HOLDOUT))
        held.extend(part[:cut])
        train.extend(part[cut:])
    return train, held


def holdout_accuracy(gate: RewardGate, rows: Sequence[RewardRow], level: int = 3) -> dict[str, Any]:
    scores = gate.score_batch([(list(r.obs), r.task) for r in rows])
    threshold = gate.thresholds()[level]
    predicted = [s >= (gate.silence_threshold if r.task is None else threshold) for s, r in zip(scores, rows)]
    result = score_judgements([r.valid for r in rows], predicted, [r.category for r in rows], balanced=True)
    return {k: result[k] for k in ("accuracy", "precision", "recall", "f1", "per_category", "n")}


@dataclass
class RetrainReport:
    replaced: bool
    rows: int
    held_out: int
    old: dict[str, Any]
    new: dict[str, Any]
    current_dir: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def retrain(store: Any, workspace: str | None = None, seed: int = 1234, cfg: RewardTrainConfig | None = None,
            level: int = 3, budget_s: float | None = DEFAULT_BUDGET_S) -> RetrainReport:
    """Train on the base rows plus the user's answers, within `budget_s` seconds of wall clock
    (None or 0: no limit; a `cfg` with its own non-zero budget_s keeps it). Past the budget it
    raises BudgetExceeded and the current model stays: a retrain runs on the user's machine, and
    must not hold two shared cores for longer than they agreed to."""
    rows = outcome_rows(store, workspace)
    accepted = sum(r.valid for r in rows)
    if len(rows) < MIN_OUTCOMES or accepted < MIN_PER_SIDE or len(rows) - accepted < MIN_PER_SIDE:
        raise NotEnoughOutcomes(len(rows), accepted, len(rows) - accepted)
    train_rows, held = split_holdout(rows, seed)
    folder = personal_dir()
    folder.mkdir(parents=True, exist_ok=True)
    current = RewardGate()
    staging = Path(tempfile.mkdtemp(prefix="new-", dir=folder))
    try:
        config = cfg or RewardTrainConfig()
        config.out_dir, config.cv, config.write, config.seed = str(staging), False, True, seed
        config.judge_whole_gate = False  # the held-out part of the user's answers judges it instead
        if budget_s and not config.budget_s:
            config.budget_s = budget_s
        config.embeddings = str(folder / "embeddings.npz")
        train_main(config, extra_rows=train_rows)
        _keep_thresholds(staging, current)
        candidate = RewardGate(staging, encoder=current.encoder)
        old, new = holdout_accuracy(current, held, level), holdout_accuracy(candidate, held, level)
        replaced = new["accuracy"] >= old["accuracy"]
        if replaced:
            _install(staging)
        return RetrainReport(replaced, len(rows), len(held), old, new, str(folder / "current" if replaced else current.weights_dir))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _keep_thresholds(staging: Path, current: RewardGate) -> None:
    """Personal runs skip cross-validation, so they keep the calibrated thresholds they replace."""
    import json

    card_file = staging / "card.json"
    card = json.loads(card_file.read_text())
    card["thresholds"] = {str(k): v for k, v in current.thresholds().items()}
    card["silence_threshold"] = current.silence_threshold
    card["thresholds_from"] = str(current.weights_dir)
    card_file.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def _install(staging: Path) -> None:
    folder = personal_dir()
    folder.mkdir(parents=True, exist_ok=True)
    current, previous = folder / "current", folder / "previous"
    shutil.rmtree(previous, ignore_errors=True)
    if current.is_dir():
        current.rename(previous)
    else:
        previous.mkdir()
        (previous / SHIPPED_MARKER).write_text(f"the previous model was the shipped one in {SHIPPED_DIR}\n")
    shutil.copytree(staging, current)


def rollback() -> str:
    """Bring back the previous model (swapping, so a second rollback undoes the first)."""
    folder = personal_dir()
    current, previous = folder / "current", folder / "previous"
    if not previous.is_dir():
        raise FileNotFoundError("there is no previous reward model to roll back to")
    if (previous / SHIPPED_MARKER).is_file():
        swap = folder / "rolled-back"
        shutil.rmtree(swap, ignore_errors=True)
        if current.is_dir():
            current.rename(swap)
        shutil.rmtree(previous)
        if swap.is_dir():  # keep what was undone, so `--rollback` again restores it
            swap.rename(previous)
        return f"restored the shipped reward model ({SHIPPED_DIR})"
    swap = folder / "swap"
    shutil.rmtree(swap, ignore_errors=True)
    if current.is_dir():
        current.rename(swap)
    previous.rename(current)
    if swap.is_dir():
        swap.rename(previous)
    else:
        previous.mkdir()
        (previous / SHIPPED_MARKER).write_text(f"the previous model was the shipped one in {SHIPPED_DIR}\n")
    return f"restored the previous reward model ({current})"
