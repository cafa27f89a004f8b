"""The gate contract shared by every gate kind (trained reward model, in-context judge, Ollama).

A gate scores `(observations, task or None)` as the probability that the user accepts. For a
task, the proposal is surfaced when that probability clears the threshold of the user's
interruption level. For None ("no task"), the score is the probability that staying silent is
right (`companion eval reward` scores the "no task" rows with it; the engine gates each proposal
against the threshold of the interruption level).

Observations are ProactiveBench-style dicts {"time": str, "event": str}, oldest first (what
`companion.render.observation(event)` returns and what the reward data holds).
"""

from __future__ import annotations

import re
from typing import Protocol, Sequence

Observation = dict[str, str]
# Interruption level 1 (only the surest proposals) … 5 (anything plausible), as probabilities
# of acceptance. A gate may calibrate its own table (see `thresholds`).
DEFAULT_THRESHOLDS = {1: 0.9, 2: 0.75, 3: 0.5, 4: 0.35, 5: 0.2}
# The observation that carries a quick-fix candidate's evidence (companion/quickfix/why.py writes it,
# last, after the workspace's events): it marks a coding moment with evidence, which the reward
# gate judges with its coding heads (companion/gate/reward.py).
EVIDENCE_PREFIX = "Evidence: "


_RULE = re.compile(r"(?:^|; )rule: ([\w.\-]+)\s*$")


def _last_text(observations: Sequence[Observation | str]) -> str:
    if not observations:
        return ""
    last = observations[-1]
    return str(last if isinstance(last, str) else last.get("event", ""))


def has_evidence(observations: Sequence[Observation | str]) -> bool:
    """Whether the last observation (a dict, or its sentence alone) is a candidate's evidence line."""
    return _last_text(observations).startswith(EVIDENCE_PREFIX)


def evidence_rule(observations: Sequence[Observation | str]) -> str | None:
    """The quick-fix rule named at the end of a candidate's evidence line (quickfix/why.py writes
    "…; rule: NAME"), or None: the kind of help, for the user's answers on alike help."""
    if not has_evidence(observations):
        return None
    found = _RULE.search(_last_text(observations)[len(EVIDENCE_PREFIX):])
    return found.group(1) if found else None


class Gate(Protocol):
    name: str

    def score(self, observations: Sequence[Observation], task: str | None) -> float:
        """P(the user accepts `task` after these observations); for None, P(silence is right)."""
        ...

    def score_batch(self, pairs: Sequence[tuple[Sequence[Observation], str | None]]) -> list[float]:
        ...

    def thresholds(self) -> dict[int, float]:
        """Level -> probability threshold, non-increasing as the level rises."""
        ...


def threshold_for(gate: Gate, level: int) -> float:
    if not 1 <= level <= 5:
        raise ValueError(f"interruption level must be 1 to 5, got {level}")
    return gate.thresholds()[level]
