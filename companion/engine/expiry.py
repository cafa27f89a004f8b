"""Unanswered proposals expire to `ignored`; snoozed ones come back after the snooze.

Both are answers the user gave by not answering: `ignored` (via "expiry") is training data like any
other outcome, and a snoozed proposal's `snoozed` outcome stays recorded when it is offered again.
"""

from __future__ import annotations

import time
from typing import Any

from companion.proposals import Outcome
from companion.store import Store


def expire_unanswered(daemon: Any, store: Store, workspace: str, expire_s: float, now: float | None = None) -> int:
    """Open proposals older than `expire_s` become `ignored` (an Outcome via "expiry")."""
    now = now or time.time()
    count = 0
    for proposal in store.proposals(workspace=workspace, statuses=["open"]):
        if now - proposal.ts >= expire_s:
            answered = store.record_outcome(Outcome(proposal.id, "ignored", via="expiry", ts=now))
            daemon.publish("proposal", {"proposal": answered.to_dict(), "change": "answered"})
            count += 1
    return count


def wake_snoozed(daemon: Any, store: Store, workspace: str, snooze_s: float, now: float | None = None) -> int:
    """Snoozed proposals come back (open, offered again to every client) after `snooze_s`.

    The `snoozed` outcome stays recorded as training data; the proposal's clock restarts, so it
    expires to `ignored` only if it is left unanswered again."""
    now = now or time.time()
    count = 0
    for proposal in store.proposals(workspace=workspace, statuses=["snoozed"]):
        if proposal.answered_ts is not None and now - proposal.answered_ts >= snooze_s:
            proposal.status, proposal.answered_ts, proposal.ts = "open", None, now
            daemon.offer(proposal)
            count += 1
    return count
