"""ProactiveBench reward rows: reading them strictly, and the four judgement categories.

A row is `{"obs": [{"time", "event"}], "pred_task": str|null, "valid": bool}` plus an optional
`category`, and ProactiveBench's optional annotation fields: `help_needed` (did the annotators
agree that this moment needed some task?) and `annotation` (each annotator's vote for this row's
judgement). The judgement memory (companion/gate/memory.py) reads both when they are there. The category is a function of the other two fields — a null task that was right is
a Correct-Rejection, a null task when help was needed a Missed-Need, an accepted task a
Correct-Detection, a rejected one a False-Alarm — so it is derived when absent and checked when
present. Bad rows are reported with their line number and skipped; one broken line never loses
the rest of a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MISSED_NEED = "Missed-Need (MN)"
CORRECT_REJECTION = "Correct-Rejection (CR)"
CORRECT_DETECTION = "Correct-Detection (CD)"
FALSE_ALARM = "False-Alarm (FA)"
CATEGORIES = (MISSED_NEED, CORRECT_REJECTION, CORRECT_DETECTION, FALSE_ALARM)
SHORT = {MISSED_NEED: "MN", CORRECT_REJECTION: "CR", CORRECT_DETECTION: "CD", FALSE_ALARM: "FA"}


def category_of(task: str | None, valid: bool) -> str:
    if task is None:
        return CORRECT_REJECTION if valid else MISSED_NEED
    return CORRECT_DETECTION if valid else FALSE_ALARM


@dataclass(frozen=True)
class RewardRow:
    obs: tuple[dict[str, str], ...]
    task: str | None
    valid: bool
    category: str = field(default="")
    help_needed: bool | None = None  # this history needed some task (ProactiveBench's annotators), if known
    votes: tuple[bool, ...] | None = None  # each annotator's "the pred_task is right", if known

    @property
    def agreement(self) -> float | None:
        """Share of annotators who judged the row's pred_task right (None: no annotations)."""
        return sum(self.votes) / len(self.votes) if self.votes else None

    @property
    def agreeing(self) -> int:
        """How many annotators agree with the row's `valid` label (0 without annotations)."""
        return sum(v == self.valid for v in self.votes) if self.votes else 0

    @property
    def unanimous(self) -> bool:
        """Three annotators, all agreeing with `valid`: the rows ProactiveBench's held-out split
        draws first (training/reward/heldout.py)."""
        return bool(self.votes) and len(self.votes) == 3 and self.agreeing == 3

    def __post_init__(self) -> None:
        if not self.category:
            object.__setattr__(self, "category", category_of(self.task, self.valid))

    @property
    def history_key(self) -> str:
        return json.dumps([o["event"] for o in self.obs], ensure_ascii=False)

    @property
    def trace_key(self) -> str:
        """The first event names the recorded session a history was cut from (prefixes share it)."""
        return self.obs[0]["event"] if self.obs else ""

    @property
    def accept_share(self) -> float:
        """How many judges found this row's pred_task right: the annotators' share when known, else
        the single judge's answer (a user's own outcome)."""
        return self.agreement if self.agreement is not None else float(self.valid)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"obs": list(self.obs), "pred_task": self.task, "valid": self.valid, "category": self.category}
        if self.help_needed is not None:
            out["help_needed"] = self.help_needed
        if self.votes is not None:
            out["annotation"] = list(self.votes)
        return out


def parse_row(raw: Any) -> RewardRow:
    """One row from its JSON value; ValueError says what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    obs = raw.get("obs")
    if not isinstance(obs, list) or not obs:
        raise ValueError("`obs` must be a non-empty list of {time, event}")
    clean = []
    for i, item in enumerate(obs):
        if not isinstance(item, dict) or not isinstance(item.get("event"), str):
            raise ValueError(f"`obs[{i}]` must be an object with a string `event`")
        clean.append({"time": str(item.get("time", "")), "event": item["event"]})
    if "pred_task" not in raw:
        raise ValueError("`pred_task` is missing (use null for no task)")
    task = raw["pred_task"]
    if task is not None and not isinstance(task, str):
        raise ValueError("`pred_task` must be a string or null")
    if isinstance(task, str) and not task.strip():
        task = None
    valid = raw.get("valid")
    if not isinstance(valid, bool):
        raise ValueError("`valid` must be true or false")
    category = raw.get("category")
    expected = category_of(task, valid)
    if category is not None and category != expected:
        raise ValueError(f"`category` {category!r} contradicts pred_task/valid (expected {expected!r})")
    help_needed = raw.get("help_needed")
    if help_needed is not None and not isinstance(help_needed, bool):
        raise ValueError("`help_needed` must be true, false or absent")
    return RewardRow(tuple(clean), task, valid, expected, help_needed, _votes(raw.get("annotation")))


def _votes(annotation: Any) -> tuple[bool, ...] | None:
    """ProactiveBench's `annotation`: per annotator, "chose this task" for a task row and "chose no
    task at all" for a null row — either way a vote for the row's pred_task being right."""
    if annotation is None:
        return None
    if not isinstance(annotation, list) or not annotation or not all(isinstance(v, bool) for v in annotation):
        raise ValueError("`annotation` must be a non-empty list of true/false votes")
    return tuple(annotation)


def read_rows(path: str | Path) -> tuple[list[RewardRow], list[tuple[int, str]]]:
    """(good rows, [(line number, problem)]) of a JSONL file; blank lines are not problems."""
    rows: list[RewardRow] = []
    problems: list[tuple[int, str]] = []
    with Path(path).open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(parse_row(json.loads(line)))
            except json.JSONDecodeError as exc:
                problems.append((number, f"not JSON: {exc.msg}"))
            except ValueError as exc:
                problems.append((number, str(exc)))
    return rows, problems
