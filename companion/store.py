"""The local SQLite store: events, proposals and outcomes, for every workspace.

WAL mode with synchronous=NORMAL: a committed write survives the process being killed at any
moment, readers (the CLI, the TUI) never block the daemon's writer, and a crashed process leaves
a database that opens cleanly. Events are written in batches, one transaction each (`add_events`, called by the pipeline).
The schema version lives in `PRAGMA user_version`; MIGRATIONS upgrades older files in place.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from companion import paths
from companion.events import Event
from companion.proposals import Outcome, Proposal

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE events (
        id TEXT PRIMARY KEY,
        ts REAL NOT NULL,
        workspace TEXT NOT NULL,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX events_ws_ts ON events (workspace, ts);
    CREATE INDEX events_ts ON events (ts);
    CREATE TABLE proposals (
        id TEXT PRIMARY KEY,
        ts REAL NOT NULL,
        workspace TEXT NOT NULL,
        task TEXT,
        status TEXT NOT NULL,
        surfaced INTEGER NOT NULL,
        score REAL,
        data TEXT NOT NULL
    );
    CREATE INDEX proposals_ws_ts ON proposals (workspace, ts);
    CREATE TABLE outcomes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        proposal_id TEXT NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
        ts REAL NOT NULL,
        outcome TEXT NOT NULL,
        answer_s REAL,
        via TEXT NOT NULL
    );
    CREATE INDEX outcomes_proposal ON outcomes (proposal_id);
    """,
    # 2: key/value state that must survive restarts (pause-until, ingested spool offsets, models)
    """
    CREATE TABLE state (
        workspace TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (workspace, key)
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(RuntimeError):
    """The database cannot be opened or is newer than this version of companion."""


class Store:
    """A thread-safe handle on the database; one per process is enough."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else paths.database_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            # 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database's mode
            paths.private_file(self.path)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._migrate()
        except (sqlite3.DatabaseError, PermissionError) as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}. "
                             "Move the file aside or run `companion forget --all` to start afresh.") from exc

    # -- schema ---------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"the store at {self.path} has schema {version}, newer than this "
                                 f"companion ({SCHEMA_VERSION}); upgrade companion")
            for number in range(version, SCHEMA_VERSION):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(MIGRATIONS[number]):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {number + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> int:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return cursor.rowcount

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self._db.execute(sql, tuple(args))
            return cursor.fetchall()

    # -- events ---------------------------------------------------------------------------
    def add_events(self, events: Iterable[Event]) -> int:
        """Insert events in one transaction; when this returns they survive a crash."""
        rows = [(e.id, e.ts, e.workspace, e.source, e.kind, e.data_json()) for e in events]
        if not rows:
            return 0
        return self._write("INSERT OR IGNORE INTO events (id, ts, workspace, source, kind, data) VALUES (?,?,?,?,?,?)", rows)

    def events(self, workspace: str | None = None, since: float | None = None, until: float | None = None,
               sources: Iterable[str] | None = None, kinds: Iterable[str] | None = None,
               limit: int | None = None, newest_first: bool = False, ids: Iterable[str] | None = None) -> list[Event]:
        where, args = _filters(workspace=workspace, since=since, until=until)
        for column, values in (("source", sources), ("kind", kinds), ("id", ids)):
            if values is not None:
                values = list(values)
                where.append(f"{column} IN ({','.join('?' * len(values))})" if values else "0")
                args.extend(values)
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT id, ts, workspace, source, kind, data FROM events {_where(where)} ORDER BY ts {order}, rowid {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [Event(id=r[0], ts=r[1], workspace=r[2], source=r[3], kind=r[4], data=json.loads(r[5]))
                for r in self._query(sql, args)]

    def count_events(self, workspace: str | None = None) -> int:
        where, args = _filters(workspace=workspace)
        return int(self._query(f"SELECT COUNT(*) FROM events {_where(where)}", args)[0][0])

    # -- proposals and outcomes -------------------------------------------------------------
    def save_proposal(self, proposal: Proposal) -> None:
        """Insert or replace a proposal (its status changes as it is answered)."""
        # An upsert, not INSERT OR REPLACE: REPLACE deletes the old row first, and the cascade
        # would delete the proposal's earlier outcomes (its training data).
        self._write("INSERT INTO proposals (id, ts, workspace, task, status, surfaced, score, data) "
                    "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET ts = excluded.ts, "
                    "workspace = excluded.workspace, task = excluded.task, status = excluded.status, "
                    "surfaced = excluded.surfaced, score = excluded.score, data = excluded.data",
                    [(proposal.id, proposal.ts, proposal.workspace, proposal.task, proposal.status,
                      int(proposal.surfaced), proposal.score, json.dumps(proposal.to_dict(), ensure_ascii=False))])

    def proposal(self, proposal_id: str) -> Proposal | None:
        rows = self._query("SELECT data FROM proposals WHERE id = ? OR id LIKE ? ORDER BY ts DESC LIMIT 2",
                           (proposal_id, proposal_id + "%"))
        exact = [r for r in rows if json.loads(r[0])["id"] == proposal_id]
        chosen = exact or (rows if len(rows) == 1 else [])
        return Proposal.from_dict(json.loads(chosen[0][0])) if chosen else None

    def proposals(self, workspace: str | None = None, statuses: Iterable[str] | None = None,
                  surfaced: bool | None = None, since: float | None = None, limit: int | None = None,
                  newest_first: bool = True) -> list[Proposal]:
        where, args = _filters(workspace=workspace, since=since)
        if statuses is not None:
            statuses = list(statuses)
            where.append(f"status IN ({','.join('?' * len(statuses))})" if statuses else "0")
            args.extend(statuses)
        if surfaced is not None:
            where.append("surfaced = ?")
            args.append(int(surfaced))
        sql = f"SELECT data FROM proposals {_where(where)} ORDER BY ts {'DESC' if newest_first else 'ASC'}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [Proposal.from_dict(json.loads(r[0])) for r in self._query(sql, args)]

    def record_outcome(self, outcome: Outcome) -> Proposal:
        """Store an answer and move the proposal to that status; raises KeyError for an unknown id."""
        with self._lock:
            proposal = self.proposal(outcome.proposal_id)
            if proposal is None:
                raise KeyError(outcome.proposal_id)
            proposal.status = outcome.outcome
            proposal.answered_ts = outcome.ts
            answer_s = outcome.answer_s if outcome.answer_s is not None else max(0.0, outcome.ts - proposal.ts)
            self.save_proposal(proposal)
            self._write("INSERT INTO outcomes (proposal_id, ts, outcome, answer_s, via) VALUES (?,?,?,?,?)",
                        [(proposal.id, outcome.ts, outcome.outcome, answer_s, outcome.via)])
            return proposal

    def outcomes(self, workspace: str | None = None, since: float | None = None) -> list[tuple[Proposal, Outcome]]:
        """Every answer with its proposal, oldest first (the training data of personalisation)."""
        where, args = _filters(since=since, column="o.ts")
        if workspace is not None:
            where.append("p.workspace = ?")
            args.append(workspace)
        rows = self._query(f"SELECT p.data, o.ts, o.outcome, o.answer_s, o.via FROM outcomes o "
                           f"JOIN proposals p ON p.id = o.proposal_id {_where(where)} ORDER BY o.ts ASC", args)
        return [(Proposal.from_dict(json.loads(r[0])),
                 Outcome(proposal_id=json.loads(r[0])["id"], ts=r[1], outcome=r[2], answer_s=r[3], via=r[4]))
                for r in rows]

    # -- small persistent state --------------------------------------------------------------
    def get_state(self, workspace: str, key: str, default: Any = None) -> Any:
        rows = self._query("SELECT value FROM state WHERE workspace = ? AND key = ?", (workspace, key))
        return json.loads(rows[0][0]) if rows else default

    def set_state(self, workspace: str, key: str, value: Any) -> None:
        self._write("INSERT OR REPLACE INTO state (workspace, key, value) VALUES (?,?,?)",
                    [(workspace, key, json.dumps(value))])

    def state_entries(self, key: str) -> dict[str, Any]:
        """The value of one state key for every workspace that has it (e.g. all readers of the shell spool)."""
        return {r[0]: json.loads(r[1]) for r in self._query("SELECT workspace, value FROM state WHERE key = ?", (key,))}

    # -- retention ------------------------------------------------------------------------
    def forget(self, workspace: str | None = None, since: float | None = None, before: float | None = None) -> dict[str, int]:
        """Delete events and proposals (with their outcomes) in a time window; returns counts."""
        counts: dict[str, int] = {}
        for table in ("events", "proposals"):
            where, args = _filters(workspace=workspace, since=since)
            if before is not None:
                where.append("ts < ?")
                args.append(before)
            counts[table] = self._write(f"DELETE FROM {table} {_where(where)}", [tuple(args)])
        return counts

    def prune(self, max_age_days: float, now: float | None = None) -> dict[str, int]:
        """Retention: drop everything older than max_age_days."""
        return self.forget(before=(now or time.time()) - max_age_days * 86400)

    def vacuum(self) -> None:
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("VACUUM")

    def integrity_ok(self) -> bool:
        return self._query("PRAGMA quick_check")[0][0] == "ok"


def _statements(script: str) -> Iterator[str]:
    for part in script.split(";"):
        if part.strip():
            yield part


def _filters(workspace: str | None = None, since: float | None = None, until: float | None = None,
             column: str = "ts") -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if workspace is not None:
        where.append("workspace = ?")
        args.append(workspace)
    if since is not None:
        where.append(f"{column} >= ?")
        args.append(since)
    if until is not None:
        where.append(f"{column} < ?")
        args.append(until)
    return where, args


def _where(clauses: list[str]) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""
