"""The SQLite store: round trips, filters, proposals and outcomes, migrations, retention, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from companion.events import Event
from companion.proposals import Outcome, Proposal
from companion.store import MIGRATIONS, SCHEMA_VERSION, Store, StoreError


def make_event(i: int, ts: float, workspace: str = "/ws", source: str = "shell") -> Event:
    return Event(source=source, kind=f"{source}.command" if source == "shell" else f"{source}.saved",
                 data={"command": f"make target{i}", "exit_code": i % 3, "nested": {"list": [1, 2]}},
                 workspace=workspace, ts=ts)


def test_wal_mode_and_schema(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        assert store.schema_version == SCHEMA_VERSION
        mode = sqlite3.connect(tmp_path / "c.db").execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_event_round_trip_and_filters(tmp_path: Path) -> None:
    now = time.time()
    with Store(tmp_path / "c.db") as store:
        events = [make_event(i, now - 100 + i) for i in range(50)]
        events.append(make_event(99, now, workspace="/other", source="file"))
        assert store.add_events(events) == 51
        assert store.add_events(events[:5]) == 0  # ids are unique: a replay stores nothing twice
        got = store.events(workspace="/ws")
        assert [e.id for e in got] == [e.id for e in events[:50]]
        assert got[3].data["nested"]["list"] == (1, 2) and got[3].data["exit_code"] == 0
        assert len(store.events(workspace="/ws", since=now - 55.5)) == 5  # i = 45..49
        assert [e.source for e in store.events(sources=["file"])] == ["file"]
        newest = store.events(workspace="/ws", limit=2, newest_first=True)
        assert [e.data["command"] for e in newest] == ["make target49", "make target48"]
        assert store.count_events() == 51


def test_proposal_outcome_flow(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        proposal = Proposal(task="Explain the failing test", response="Because…", operation="explain",
                            workspace="/ws", score=0.8, surfaced=True, event_ids=["e1"], ts=time.time() - 5)
        store.save_proposal(proposal)
        assert store.proposal(proposal.id[:6]).task == "Explain the failing test"  # prefix look-up
        answered = store.record_outcome(Outcome(proposal.id, "accepted", via="cli"))
        assert answered.status == "accepted"
        [(stored, outcome)] = store.outcomes(workspace="/ws")
        assert stored.id == proposal.id and outcome.outcome == "accepted" and outcome.answer_s >= 5
        assert store.proposals(workspace="/ws", statuses=["open"]) == []
        with pytest.raises(KeyError):
            store.record_outcome(Outcome("nope", "rejected"))
        with pytest.raises(ValueError):
            Outcome(proposal.id, "loved")


def test_state_survives_reopen(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        store.set_state("/ws", "paused_until", 123.5)
    with Store(tmp_path / "c.db") as store:
        assert store.get_state("/ws", "paused_until") == 123.5
        assert store.get_state("/ws", "missing", "default") == "default"


def test_migration_from_version_one(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO events VALUES ('x', 1.0, '/ws', 'shell', 'shell.command', '{}')")
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert [e.id for e in store.events()] == ["x"]
        store.set_state("/ws", "k", 1)  # the table added by migration 2 exists


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="upgrade companion"):
        Store(path)


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="forget --all"):
        Store(path)


def test_retention_and_forget(tmp_path: Path) -> None:
    now = time.time()
    with Store(tmp_path / "c.db") as store:
        store.add_events([make_event(0, now - 100 * 86400), make_event(1, now - 3600), make_event(2, now - 60),
                          make_event(3, now, workspace="/other")])
        store.save_proposal(Proposal(task="old", workspace="/ws", ts=now - 100 * 86400))
        assert store.prune(90) == {"events": 1, "proposals": 1}
        assert store.forget(workspace="/ws", since=now - 600) == {"events": 1, "proposals": 0}
        assert [e.data["command"] for e in store.events()] == ["make target1", "make target3"]
        store.forget(workspace="/ws")
        assert [e.workspace for e in store.events()] == ["/other"]


CRASH_WRITER = textwrap.dedent("""
    import sys, time
    from companion.events import Event
    from companion.store import Store
    store = Store(sys.argv[1])
    i = 0
    while True:
        batch = [Event(source="shell", kind="shell.command", data={"n": i + k, "pad": "x" * 200}, workspace="/ws")
                 for k in range(50)]
        store.add_events(batch)
        i += 50
        print(i, flush=True)  # acknowledged: this many events are committed
""")


def test_kill_at_any_moment_keeps_acknowledged_events(tmp_path: Path) -> None:
    """SIGKILL a writer mid-stream: every acknowledged event is there and the file opens cleanly."""
    path = tmp_path / "crash.db"
    for delay in (0.4, 0.9, 1.3):
        process = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                                   env=os.environ.copy())
        acknowledged = 0
        deadline = time.monotonic() + delay + 5
        started = None
        assert process.stdout is not None
        for line in process.stdout:
            acknowledged = int(line)
            started = started or time.monotonic()
            if time.monotonic() - started > delay or time.monotonic() > deadline:
                break
        process.send_signal(signal.SIGKILL)
        process.wait()
        with Store(path) as store:
            assert store.integrity_ok()
            numbers = {e.data["n"] for e in store.events()}
            assert set(range(acknowledged)) <= numbers
        path.unlink()
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


def test_answering_again_keeps_earlier_outcomes(tmp_path: Path) -> None:
    """Saving a proposal again (a snooze, then an accept) must not drop its earlier outcomes."""
    with Store(tmp_path / "c.db") as store:
        proposal = Proposal(task="Fix the import", workspace="/ws", surfaced=True)
        store.save_proposal(proposal)
        store.record_outcome(Outcome(proposal.id, "snoozed", via="lsp"))
        store.record_outcome(Outcome(proposal.id, "accepted", via="lsp"))
        assert [o.outcome for _, o in store.outcomes(workspace="/ws")] == ["snoozed", "accepted"]
        assert store.proposal(proposal.id).status == "accepted"
