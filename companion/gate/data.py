"""ProactiveBench reward rows: reading them strictly, and the four judgement categories.

A row is `{"obs": [{"time", "event"}], "pred_task": str|null, "valid": bool}` plus an optional
`category`. The category is a function of the other two fields — a null task that was right is
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

    def to_json(self) -> dict[str, Any]:
        return {"obs": list(self.obs), "pred_task": self.task, "valid": self.valid, "category": self.category}


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
    return RewardRow(tuple(clean), task, valid, expected)


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
