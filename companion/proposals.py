"""The Proposal and Outcome contracts shared by the engine, the store and every client.

A proposal never runs anything by itself: a `run_command` is shown, an `edit` patch is applied
only when the user accepts it. Outcomes are training data (see training/dataset.py).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

OPERATIONS = ("explain", "run_command", "edit", "open")
OUTCOMES = ("accepted", "rejected", "ignored", "snoozed")
# status of a stored proposal: "open" while it waits for an answer, "silent" when the gate kept it
# back, otherwise the outcome it got.
STATUSES = ("open", "silent") + OUTCOMES


@dataclass
class Proposal:
    """What the agent offered for the latest observations, with the gate's judgement."""

    task: str | None
    response: str = ""
    operation: str | None = None
    purpose: str = ""
    thoughts: str = ""
    path: str | None = None  # the file the proposal concerns, relative to the workspace
    line: int | None = None  # 1-based line in that file
    end_line: int | None = None
    score: float | None = None  # gate probability that the user accepts
    surfaced: bool = False
    status: str = "open"
    trigger: str = ""  # the event kind or rule that woke the agent
    event_ids: list[str] = field(default_factory=list)
    backend: str = ""
    workspace: str = ""
    ts: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    answered_ts: float | None = None
    rule: str | None = None  # the quick-fix rule that produced it (companion/quickfix); None for the model's own
    evidence: dict[str, Any] = field(default_factory=dict)  # the "why": the evidence items it rests on
    confidence: float | None = None  # the rule's confidence (None for the model's own)

    def __post_init__(self) -> None:
        if self.operation is not None and self.operation not in OPERATIONS:
            raise ValueError(f"unknown operation {self.operation!r}; expected one of {OPERATIONS}")
        if self.status not in STATUSES:
            raise ValueError(f"unknown proposal status {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "Proposal":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})


@dataclass(frozen=True)
class Outcome:
    """How the user answered a proposal, and how long it took them."""

    proposal_id: str
    outcome: str
    answer_s: float | None = None
    via: str = ""  # cli | tui | lsp | vscode | nvim | expiry
    ts: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}; expected one of {OUTCOMES}")
