"""A wall-clock budget for training runs: `companion train reward --budget-s` and the learning harness.

Retraining runs on the user's own machine, often on two shared cores, so it must end in a time
the user chose instead of whenever the fits happen to finish. A run checks its `Deadline` between
steps (every full-batch epoch, every fold, every phase) — checking costs one `time.monotonic()` —
and stops with `BudgetExceeded` rather than writing a half-trained model: the caller keeps the
model it had and says why.
"""

from __future__ import annotations

import time


class BudgetExceeded(RuntimeError):
    """The run used up its time budget; nothing was written."""

    def __init__(self, budget_s: float, what: str) -> None:
        super().__init__(f"the time budget of {budget_s:g} s was spent before {what} finished "
                         f"(raise it with --budget-s, or 0 for no limit)")
        self.budget_s = budget_s
        self.what = what


class Deadline:
    """A point in time after which a run stops; `budget_s` None or <= 0 never expires."""

    def __init__(self, budget_s: float | None) -> None:
        self.budget_s = budget_s if budget_s and budget_s > 0 else None
        self.deadline = time.monotonic() + self.budget_s if self.budget_s is not None else float("inf")

    def left(self) -> bool:
        """True while there is time left (cheap enough to ask every training step)."""
        return time.monotonic() < self.deadline

    def remaining_s(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def check(self, what: str) -> None:
        """Raise `BudgetExceeded` naming `what` once the time is spent."""
        if not self.left():
            raise BudgetExceeded(self.budget_s or 0.0, what)


NO_LIMIT = Deadline(None)
