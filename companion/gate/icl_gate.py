"""The `icl` gate: the agent's own small model judges proposals from a few of the user's answers.

No training: k demonstrations (the user's own accepted and rejected proposals, or
ProactiveBench judgements while the user has none) are written before the question, and the
model's preference for " accepted" over " rejected" as the next word is the score. It works from
the first few outcomes, and follows the user as their answers change. The demonstrations are
run through the model once and reused for every question (see icl_forward.PrefixScorer), so a
score costs one short forward pass.

A bare 135M model is a biased judge, so scores are calibrated contextually (Zhao et al. 2021,
"Calibrate Before Use"): the margin of a content-free question is subtracted, making "no
information" read as probability 0.5. A saved SVD plan (`companion train svd`) is applied to the
weights at load time.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from companion import paths
from companion.gate.base import DEFAULT_THRESHOLDS, Observation

log = logging.getLogger(__name__)
# ProactiveBench's data (Apache-2.0) is not shipped; COMPANION_PROACTIVEBENCH names its folder.
# Without it the gate falls back to a few ProactiveBench rows packaged next to this module.
PROACTIVEBENCH_ENV = "COMPANION_PROACTIVEBENCH"
PACKAGED_DEMOS = Path(__file__).with_name("icl_demos.json")
INSTRUCTION = ("Each example shows what a developer was doing, what their coding assistant then proposed "
               "(or that it stayed silent), and whether the developer accepted or rejected it.\n\n")
SILENCE = "none (the assistant stayed silent)"
CONTENT_FREE = ([{"time": "", "event": "N/A"}], "N/A")
MAX_EVENTS = 3  # the latest observations matter most; older ones cost tokens without helping
MAX_EVENT_CHARS = 160
MAX_TASK_CHARS = 120
REFRESH_S = 60.0  # how often the gate looks for new answers of the user


def plan_file() -> Path:
    """Where `companion train svd` saves the plan the judge applies at load time."""
    return paths.models_dir() / "icl" / "svd_plan.json"


@dataclass(frozen=True)
class Demo:
    """One demonstration: observations, the proposed task (None = silence), the user's answer."""

    observations: tuple[tuple[str, str], ...]
    task: str | None
    accepted: bool

    @classmethod
    def make(cls, observations: Sequence[Observation], task: str | None, accepted: bool) -> "Demo":
        return cls(tuple((str(o.get("time", "")), str(o.get("event", ""))) for o in observations), task, accepted)


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def question(observations: Sequence[Observation] | Iterable[tuple[str, str]], task: str | None) -> str:
    """The text the judge completes with " accepted" or " rejected"."""
    events = [o["event"] if isinstance(o, dict) else o[1] for o in observations][-MAX_EVENTS:]
    lines = ["Activity:"] + [f"- {_clip(e, MAX_EVENT_CHARS)}" for e in events or ["(nothing yet)"]]
    lines.append(f"Proposal: {_clip(task, MAX_TASK_CHARS) if task else SILENCE}")
    lines.append("Answer:")
    return "\n".join(lines)


def prompt_prefix(demos: Sequence[Demo]) -> str:
    """The instruction and the answered demonstrations, ready for a question to follow."""
    blocks = [question(d.observations, d.task) + (" accepted" if d.accepted else " rejected") for d in demos]
    return INSTRUCTION + "".join(block + "\n\n" for block in blocks)


def balanced_demos(rows: Sequence[dict[str, Any]], k: int, seed: int = 0) -> list[Demo]:
    """k demonstrations from reward rows (obs, pred_task, valid), alternating accepted and
    rejected and spread over categories where the rows have them, in a seeded random order."""
    rng = random.Random(seed)
    groups: dict[tuple[bool, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((bool(row["valid"]), str(row.get("category", ""))), []).append(row)
    for members in groups.values():
        rng.shuffle(members)
    keys = sorted(groups, key=lambda g: (not g[0], g[1]))
    chosen: list[dict[str, Any]] = []
    while len(chosen) < k and any(groups.values()):
        for key in keys:
            if groups[key] and len(chosen) < k:
                chosen.append(groups[key].pop())
    rng.shuffle(chosen)
    return [Demo.make(r["obs"], r.get("pred_task"), bool(r["valid"])) for r in chosen]


def recent_user_demos(rows: Sequence[dict[str, Any]], k: int) -> list[Demo]:
    """The user's latest answers (rows oldest first), half accepted and half rejected when both
    exist, interleaved so neither answer dominates the end of the prompt."""
    accepted = [r for r in rows if r["valid"]]
    rejected = [r for r in rows if not r["valid"]]
    take_a = min(len(accepted), max(k - len(rejected), k // 2))
    take_r = min(len(rejected), k - take_a)
    picked_a, picked_r = accepted[len(accepted) - take_a:], rejected[len(rejected) - take_r:]
    mixed: list[dict[str, Any]] = []
    while picked_a or picked_r:
        for source in (picked_r, picked_a):
            if source:
                mixed.append(source.pop(0))
    return [Demo.make(r["obs"], r.get("pred_task"), bool(r["valid"])) for r in mixed]


def proactivebench_dirs() -> list[Path]:
    """Where ProactiveBench's reward data may be: $COMPANION_PROACTIVEBENCH when set; otherwise,
    in a source checkout only, `../shared/data/proactivebench` beside it (the developers' layout).
    An installed companion has no such neighbour and uses the packaged rows instead."""
    override = os.environ.get(PROACTIVEBENCH_ENV)
    if override:
        return [Path(override).expanduser()]
    checkout = paths.source_checkout()
    return [checkout.parent / "shared" / "data" / "proactivebench"] if checkout is not None else []


def proactivebench_dir() -> Path | None:
    """The first of `proactivebench_dirs()` that holds reward_train.jsonl, or None."""
    return next((folder for folder in proactivebench_dirs() if (folder / "reward_train.jsonl").is_file()), None)


def proactivebench_rows(packaged: bool = False) -> list[dict[str, Any]]:
    """ProactiveBench's reward rows; with `packaged`, fall back to the small shipped sample."""
    folder = proactivebench_dir()
    if folder is not None:
        path = folder / "reward_train.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if packaged and PACKAGED_DEMOS.is_file():
        return list(json.loads(PACKAGED_DEMOS.read_text())["rows"])
    return []


class IclJudge:
    """Model + demonstrations → calibrated probabilities. Shared by the gate and the SVD search."""

    def __init__(self, model: Any, tokenizer: Any, demos: Sequence[Demo]) -> None:
        from companion.gate.icl_forward import PrefixScorer

        self.scorer = PrefixScorer(model, tokenizer)
        self.set_demos(demos)

    def set_demos(self, demos: Sequence[Demo]) -> None:
        if not demos:
            raise ValueError("the in-context judge needs at least one demonstration")
        self.demos = list(demos)
        self.pasts = self.scorer.prefix_keys(prompt_prefix(self.demos))
        self.bias = self.scorer.score(self.pasts, [question(*CONTENT_FREE)])[0]

    def margins(self, pairs: Sequence[tuple[Sequence[Observation], str | None]]) -> list[float]:
        """Calibrated margins: > 0 means the judge expects the user to accept."""
        raw = self.scorer.score(self.pasts, [question(obs, task) for obs, task in pairs])
        return [m - self.bias for m in raw]

    def probabilities(self, pairs: Sequence[tuple[Sequence[Observation], str | None]]) -> list[float]:
        return [1.0 / (1.0 + math.exp(-m)) for m in self.margins(pairs)]


class IclGate:
    """The Gate protocol over IclJudge, with demonstrations from the user's own outcomes."""

    name = "icl"

    def __init__(self, config: Any = None, workspace: str | Path | None = None, shots: int | None = None,
                 model_dir: str | Path | None = None, demos: Sequence[Demo] | None = None,
                 store: Any = None, apply_svd_plan: bool = True) -> None:
        from companion.agent.smollm import load

        gate_config = getattr(config, "gate", config)
        self.shots = int(shots or getattr(gate_config, "icl_shots", 0) or 8)
        self.workspace = str(workspace) if workspace else None  # as the store keeps it
        self._store = store
        self._fixed_demos = list(demos) if demos else None
        self._lock = threading.Lock()
        self._checked = 0.0
        self._outcome_count = -1
        model, tokenizer = load(model_dir)
        self.plan: list[Any] = []
        self.plan_error: str | None = None
        if apply_svd_plan and plan_file().is_file():
            from companion.gate.icl_forward import apply_plan, load_plan

            try:
                self.plan = load_plan(plan_file())
                apply_plan(model, self.plan)
                log.info("icl gate: applied SVD plan %s", self.plan)
            except ValueError as exc:  # a damaged plan costs the pruning, never the gate
                model, tokenizer = load(model_dir)
                self.plan, self.plan_error = [], str(exc)
                log.warning("icl gate: SVD plan not applied: %s", exc)
        self.source = "given"
        self.judge = IclJudge(model, tokenizer, self._choose_demos())

    @classmethod
    def from_config(cls, config: Any, workspace: str | None = None) -> "IclGate":
        return cls(config=config, workspace=workspace)

    def _user_rows(self) -> list[dict[str, Any]]:
        if self._store is None:
            from companion.store import Store

            self._store = Store()
        from companion.gate.user_rows import reward_rows

        rows = reward_rows(self._store, self.workspace, outcomes=("accepted", "rejected"))
        self._outcome_count = len(rows)
        return rows

    def _choose_demos(self) -> list[Demo]:
        if self._fixed_demos:
            return self._fixed_demos
        user = self._user_rows()
        self._checked = time.monotonic()
        if len({bool(r["valid"]) for r in user}) == 2:  # both answers seen: the user's own examples
            self.source = "user"
            return recent_user_demos(user, self.shots)
        self.source = "proactivebench"
        base = proactivebench_rows(packaged=True)
        if not base:
            raise FileNotFoundError("the icl gate has no demonstrations: no accepted and rejected proposals "
                                    f"yet, and {PACKAGED_DEMOS} is missing (reinstall companion)")
        return [*recent_user_demos(user, self.shots // 2), *balanced_demos(base, self.shots - len(user[: self.shots // 2]))]

    def _refresh(self) -> None:
        """Pick up new answers of the user (at most every REFRESH_S seconds)."""
        if self._fixed_demos or time.monotonic() - self._checked < REFRESH_S:
            return
        before = self._outcome_count
        self._checked = time.monotonic()
        rows = self._user_rows()
        if len(rows) != before:
            self.judge.set_demos(self._choose_demos())

    def score(self, observations: Sequence[Observation], task: str | None) -> float:
        return self.score_batch([(observations, task)])[0]

    def score_batch(self, pairs: Sequence[tuple[Sequence[Observation], str | None]]) -> list[float]:
        if not pairs:
            return []
        with self._lock:
            self._refresh()
            return self.judge.probabilities(pairs)

    def thresholds(self) -> dict[int, float]:
        return dict(DEFAULT_THRESHOLDS)
