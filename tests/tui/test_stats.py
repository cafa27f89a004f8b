"""companion.stats: acceptance, false alarms and volume, overall, per trigger source and per bucket."""

from __future__ import annotations

from companion.proposals import Outcome, Proposal
from companion.stats import choose_bucket, percent, report, trigger_source
from companion.store import Store

NOW = 1_795_000_000.0


def make(status: str, ts: float, trigger: str = "shell.command", surfaced: bool = True) -> Proposal:
    return Proposal(task="t", status=status, ts=ts, trigger=trigger, surfaced=surfaced, workspace="/w")


def test_rates_over_surfaced_answered_proposals() -> None:
    proposals = [make("accepted", NOW - 100), make("accepted", NOW - 200), make("rejected", NOW - 300),
                 make("ignored", NOW - 400), make("snoozed", NOW - 500), make("open", NOW - 50),
                 make("silent", NOW - 60, surfaced=False)]
    result = report(proposals, now=NOW, since=NOW - 7200)
    overall = result.overall
    assert (overall.surfaced, overall.answered, overall.silent) == (6, 5, 1)
    assert overall.acceptance_rate == 2 / 5
    assert overall.false_alarm_rate == 2 / 5
    assert overall.per_hour == 6 / 2
    assert percent(overall.acceptance_rate) == "40%" and percent(None) == "—"


def test_per_trigger_source() -> None:
    proposals = [make("accepted", NOW - 10, "tests.failed"), make("rejected", NOW - 20, "tests.failed"),
                 make("accepted", NOW - 30, "git.conflict"), make("ignored", NOW - 40, "")]
    result = report(proposals, now=NOW, since=NOW - 3600)
    assert set(result.by_source) == {"tests", "git", "unknown"}
    assert result.by_source["tests"].acceptance_rate == 0.5
    assert result.by_source["git"].false_alarm_rate == 0.0
    assert result.by_source["unknown"].false_alarm_rate == 1.0
    assert trigger_source(make("open", NOW, "idle:burst")) == "idle"


def test_buckets_over_time() -> None:
    proposals = [make("accepted", NOW - 3 * 3600 + 10), make("rejected", NOW - 3 * 3600 + 20), make("accepted", NOW - 10)]
    result = report(proposals, now=NOW, since=NOW - 4 * 3600)
    assert result.bucket_s == 3600
    assert sum(b.rates.surfaced for b in result.buckets) == 3
    busy = [b for b in result.buckets if b.rates.surfaced]
    assert [b.rates.acceptance_rate for b in busy] == [0.5, 1.0]
    assert all(b.start <= p.ts < b.start + 3600 for b in busy[:1] for p in proposals[:2])
    assert choose_bucket(3 * 86400) == 86400 and choose_bucket(90 * 86400) == 7 * 86400


def test_empty_history() -> None:
    result = report([], now=NOW)
    assert result.overall.surfaced == 0 and result.overall.acceptance_rate is None and result.buckets == []


def test_from_a_real_store(companion_home) -> None:
    store = Store()
    for i, outcome in enumerate(["accepted", "rejected", "accepted"]):
        proposal = make("open", NOW - 600 * (i + 1))
        store.save_proposal(proposal)
        store.record_outcome(Outcome(proposal_id=proposal.id, outcome=outcome, via="tui"))
    result = report(store.proposals(workspace="/w"), now=NOW, since=NOW - 86400)
    assert result.overall.accepted == 2 and result.overall.rejected == 1
