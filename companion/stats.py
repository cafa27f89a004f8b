"""How well the companion's interruptions land: acceptance and false-alarm rates, volume over time.

Plain functions over stored proposals (their final status is their outcome), so the dashboard,
the CLI and tests compute the same figures. Definitions, among *surfaced* proposals that got an
answer (status accepted, rejected, ignored or snoozed; open ones are still waiting):

- acceptance rate = accepted / answered
- false-alarm rate = (rejected + ignored) / answered  — an interruption the user did not want
- proposals per hour = surfaced proposals / hours in the window

Snoozed proposals count as answered but as neither accepted nor a false alarm.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from companion.proposals import Proposal

ANSWERED = ("accepted", "rejected", "ignored", "snoozed")


@dataclass(frozen=True)
class Rates:
    surfaced: int = 0
    answered: int = 0
    accepted: int = 0
    rejected: int = 0
    ignored: int = 0
    snoozed: int = 0
    silent: int = 0  # proposals the gate kept back
    hours: float = 0.0

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.answered if self.answered else None

    @property
    def false_alarm_rate(self) -> float | None:
        return (self.rejected + self.ignored) / self.answered if self.answered else None

    @property
    def per_hour(self) -> float | None:
        return self.surfaced / self.hours if self.hours > 0 else None


@dataclass(frozen=True)
class Bucket:
    start: float
    rates: Rates


@dataclass(frozen=True)
class Report:
    overall: Rates
    by_source: dict[str, Rates] = field(default_factory=dict)
    buckets: list[Bucket] = field(default_factory=list)
    bucket_s: float = 3600.0


def trigger_source(proposal: Proposal) -> str:
    """The source of the event kind that woke the agent ('shell.command' -> 'shell')."""
    trigger = (proposal.trigger or "").strip()
    if not trigger:
        return "unknown"
    return trigger.split(".", 1)[0].split(":", 1)[0] or "unknown"


def rates(proposals: Iterable[Proposal], hours: float) -> Rates:
    counts: dict[str, int] = defaultdict(int)
    for proposal in proposals:
        if not proposal.surfaced:
            counts["silent"] += 1
            continue
        counts["surfaced"] += 1
        if proposal.status in ANSWERED:
            counts["answered"] += 1
            counts[proposal.status] += 1
    return Rates(surfaced=counts["surfaced"], answered=counts["answered"], accepted=counts["accepted"],
                 rejected=counts["rejected"], ignored=counts["ignored"], snoozed=counts["snoozed"],
                 silent=counts["silent"], hours=hours)


def choose_bucket(span_s: float) -> float:
    """An hour for a day or two of history, a day for longer spans, a week beyond two months."""
    if span_s <= 2 * 86400:
        return 3600.0
    if span_s <= 60 * 86400:
        return 86400.0
    return 7 * 86400.0


def report(proposals: Sequence[Proposal], now: float, since: float | None = None,
           bucket_s: float | None = None) -> Report:
    """Overall, per-trigger-source and per-bucket rates of proposals in [since, now]."""
    chosen = [p for p in proposals if (since is None or p.ts >= since) and p.ts <= now]
    start = since if since is not None else min((p.ts for p in chosen), default=now)
    span = max(now - start, 0.0)
    hours = max(span / 3600.0, 1.0) if chosen else 0.0
    overall = rates(chosen, hours)
    grouped: dict[str, list[Proposal]] = defaultdict(list)
    for proposal in chosen:
        grouped[trigger_source(proposal)].append(proposal)
    by_source = {name: rates(items, hours) for name, items in sorted(grouped.items())}
    size = bucket_s or choose_bucket(span)
    buckets: list[Bucket] = []
    if chosen:
        first = start - (start % size)
        count = int((now - first) // size) + 1
        slots: list[list[Proposal]] = [[] for _ in range(count)]
        for proposal in chosen:
            slots[min(int((proposal.ts - first) // size), count - 1)].append(proposal)
        buckets = [Bucket(start=first + i * size, rates=rates(items, size / 3600.0)) for i, items in enumerate(slots)]
    return Report(overall=overall, by_source=by_source, buckets=buckets, bucket_s=size)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"
