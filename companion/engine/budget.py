"""The interruption budget: how often the companion may speak.

At most `engine.max_per_hour` surfaced proposals an hour, a cool-down after each, a longer back-off
after an ignored or rejected one, no repeat of a task that was just answered, quiet hours, and
`companion pause 30m`. Everything is computed from the store (proposals, outcomes, the pause
time in the workspace's state), so it survives restarts and every process sees the same budget.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

from companion.store import Store

PAUSE_KEY = "engine.paused_until"
_WORD = re.compile(r"[a-z0-9]+")


def parse_quiet_hours(text: str) -> tuple[int, int] | None:
    """'22:00-07:00' -> (1320, 420) in minutes after midnight; '' -> None."""
    text = text.strip()
    if not text:
        return None
    match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", text)
    if not match:
        raise ValueError(f"quiet hours must look like 22:00-07:00, got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"quiet hours must look like 22:00-07:00, got {text!r}")
    return h1 * 60 + m1, h2 * 60 + m2


def in_quiet_hours(window: tuple[int, int] | None, now: float) -> bool:
    if window is None:
        return False
    local = datetime.fromtimestamp(now)
    minute = local.hour * 60 + local.minute
    start, end = window
    return start <= minute < end if start <= end else (minute >= start or minute < end)


def similar_tasks(a: str, b: str) -> bool:
    """Same task in other words? (word-set overlap, enough for "Run the tests" vs "run tests")."""
    words_a, words_b = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    if not words_a or not words_b:
        return False
    return len(words_a & words_b) / len(words_a | words_b) >= 0.6


class InterruptionBudget:
    def __init__(self, store: Store, workspace: str, config: Any, clock: Any = time.time) -> None:
        self.store = store
        self.workspace = workspace
        self.config = config  # EngineConfig
        self.clock = clock

    # -- pause ---------------------------------------------------------------------------
    def pause(self, seconds: float) -> float:
        until = self.clock() + seconds
        self.store.set_state(self.workspace, PAUSE_KEY, until)
        return until

    def resume(self) -> None:
        self.store.set_state(self.workspace, PAUSE_KEY, 0)

    def paused_until(self) -> float | None:
        until = float(self.store.get_state(self.workspace, PAUSE_KEY, 0) or 0)
        return until if until > self.clock() else None

    # -- the decision --------------------------------------------------------------------
    @property
    def quiet(self) -> tuple[int, int] | None:
        """Read at each use: quiet hours are a live setting."""
        return parse_quiet_hours(self.config.quiet_hours)

    def hold_reason(self) -> str | None:
        """Why no proposal may be surfaced now, or None when one may."""
        now = self.clock()
        until = self.paused_until()
        if until is not None:
            return f"paused until {datetime.fromtimestamp(until).strftime('%H:%M')}"
        if in_quiet_hours(self.quiet, now):
            return f"quiet hours ({self.config.quiet_hours})"
        surfaced = self.store.proposals(workspace=self.workspace, surfaced=True, since=now - 3600)
        if len(surfaced) >= self.config.max_per_hour:
            return f"{self.config.max_per_hour} proposals in the last hour"
        if surfaced and now - max(p.ts for p in surfaced) < self.config.cooldown_s:
            return "cooling down after the last proposal"
        for proposal, outcome in reversed(self.store.outcomes(workspace=self.workspace, since=now - self.config.backoff_s)):
            if outcome.outcome in ("ignored", "rejected"):
                return f"backing off after a {outcome.outcome} proposal"
        return None

    def repeats(self, task: str) -> str | None:
        """The earlier task this one repeats, offered (and maybe answered) within engine.repeat_window_s."""
        since = self.clock() - self.config.repeat_window_s
        for proposal in self.store.proposals(workspace=self.workspace, since=since, surfaced=True):
            if proposal.task and similar_tasks(task, proposal.task):
                return proposal.task
        return None

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        return {"paused_until": self.paused_until(), "hold": self.hold_reason(),
                "surfaced_last_hour": len(self.store.proposals(workspace=self.workspace, surfaced=True, since=now - 3600)),
                "max_per_hour": self.config.max_per_hour}
