"""The session index in ``kgate.db``: for listing and filtering; the JSONL files are the truth.

The proxy writes two rows per session: one at start (who, grant, where the log is, its pid) and
the *seal* at the end (the head hash and record count of the finished log). Everything else is
caught up from the files by readers (``sync``: only the bytes added since the last look are
read), and ``reindex`` rebuilds it from scratch — keeping the seals, because a seal is what lets
``verify`` notice that a sealed log was truncated after the fact.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgate import db
from kgate.audit import chain

if TYPE_CHECKING:
    from kgate.audit.writer import SessionLog

STEPS = (
    """
    CREATE TABLE audit_sessions (
        id TEXT PRIMARY KEY, path TEXT NOT NULL, identity TEXT, grant_id TEXT,
        started_at REAL, ended_at REAL, pid INTEGER,
        calls INTEGER NOT NULL DEFAULT 0, denied INTEGER NOT NULL DEFAULT 0,
        held INTEGER NOT NULL DEFAULT 0, masked INTEGER NOT NULL DEFAULT 0,
        sealed_head TEXT, sealed_records INTEGER,
        indexed_bytes INTEGER NOT NULL DEFAULT 0, indexed_records INTEGER NOT NULL DEFAULT 0,
        indexed_head TEXT);
    CREATE TABLE audit_requests (
        session TEXT NOT NULL, seq INTEGER NOT NULL, t REAL, verb TEXT, api_group TEXT,
        resource TEXT, subresource TEXT, namespace TEXT, name TEXT, status INTEGER,
        decision TEXT, rule TEXT, masked INTEGER, latency_ms REAL, command TEXT,
        PRIMARY KEY (session, seq));
    CREATE INDEX audit_requests_decision ON audit_requests (session, decision)
    """,
)


@dataclass(frozen=True)
class Seal:
    head: str
    records: int


def _connect(home: Path) -> sqlite3.Connection:
    conn = db.connect(home)
    db.migrate(conn, "sessions", STEPS)
    return conn


class SessionIndex:
    """The index for one ``$KGATE_HOME``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.sessions_dir = home / "sessions"
        self.conn = _connect(home)

    def close(self) -> None:
        self.conn.close()

    # ---------------------------------------------------------------- written by the proxy

    @staticmethod
    def note_started(home: Path, log: SessionLog) -> None:
        info = log.info
        with closing(_connect(home)) as conn, db.transaction(conn):
            conn.execute(
                "INSERT OR REPLACE INTO audit_sessions (id, path, identity, grant_id, "
                "started_at, pid) VALUES (?, ?, ?, ?, ?, ?)",
                (info.session_id, str(log.path), info.identity, info.grant, time.time(),
                 os.getpid()))

    @staticmethod
    def note_sealed(home: Path, log: SessionLog) -> None:
        if log.failure is not None or log.head is None:
            return
        with closing(_connect(home)) as conn, db.transaction(conn):
            conn.execute("UPDATE audit_sessions SET sealed_head = ?, sealed_records = ? "
                         "WHERE id = ?", (log.head, log.records, log.info.session_id))

    # ---------------------------------------------------------------- readers

    def seal(self, session_id: str) -> Seal | None:
        row = self.conn.execute("SELECT sealed_head, sealed_records FROM audit_sessions "
                                "WHERE id = ?", (session_id,)).fetchone()
        if row is None or row["sealed_head"] is None:
            return None
        return Seal(row["sealed_head"], int(row["sealed_records"]))

    def sync(self) -> None:
        """Catch the index up with every log file under ``sessions/``."""
        if not self.sessions_dir.is_dir():
            return
        for path in sorted(self.sessions_dir.glob("s-*.jsonl")):
            self._sync_file(path)

    def reindex(self) -> int:
        """Forget everything but the seals and read every log again; return sessions seen."""
        with db.transaction(self.conn):
            self.conn.execute("DELETE FROM audit_requests")
            self.conn.execute("UPDATE audit_sessions SET indexed_bytes = 0, indexed_records = 0,"
                              " indexed_head = NULL, calls = 0, denied = 0, held = 0, masked = 0")
        self.sync()
        return int(self.conn.execute("SELECT count(*) FROM audit_sessions").fetchone()[0])

    def sessions(self) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM audit_sessions ORDER BY started_at, id"))

    def newest(self) -> str | None:
        row = self.conn.execute("SELECT id FROM audit_sessions ORDER BY started_at DESC, "
                                "rowid DESC LIMIT 1").fetchone()
        return None if row is None else str(row["id"])

    def _sync_file(self, path: Path) -> None:
        session_id = path.name.removesuffix(".jsonl")
        row = self.conn.execute("SELECT * FROM audit_sessions WHERE id = ?",
                                (session_id,)).fetchone()
        size = path.stat().st_size
        offset = int(row["indexed_bytes"]) if row is not None else 0
        if row is not None and size <= offset:
            return  # nothing new (a shrunk file is verify's business: it compares the seal)
        seq = int(row["indexed_records"]) if row is not None else 0
        head = row["indexed_head"] if row is not None else None
        counts = {k: int(row[k]) if row is not None else 0
                  for k in ("calls", "denied", "held", "masked")}
        requests: list[tuple[Any, ...]] = []
        start: dict[str, Any] | None = None
        ended: float | None = None
        for line, record in chain.whole_lines(path, offset):
            offset += len(line)
            head = chain.line_hash(line)
            seq += 1
            kind = record.get("kind")
            if kind == "start":
                start = record
            elif kind == "end":
                ended = record.get("t")
            elif kind == "request":
                requests.append(_request_row(session_id, record))
                counts["calls"] += 1
                counts["denied"] += record.get("decision") == "deny"
                counts["held"] += bool(record.get("hold")) or record.get("decision") == "review"
                masked = record.get("masked")
                counts["masked"] += masked if isinstance(masked, int) else 0
        with db.transaction(self.conn):
            if row is None:
                info = start or {}
                self.conn.execute(
                    "INSERT INTO audit_sessions (id, path, identity, grant_id, started_at, pid)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (session_id, str(path), info.get("identity"), info.get("grant"),
                     info.get("t"), info.get("pid")))
            elif start is not None:
                self.conn.execute("UPDATE audit_sessions SET started_at = ? WHERE id = ?",
                                  (start.get("t"), session_id))
            self.conn.executemany(
                "INSERT OR REPLACE INTO audit_requests VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", requests)
            self.conn.execute(
                "UPDATE audit_sessions SET indexed_bytes = ?, indexed_records = ?, "
                "indexed_head = ?, calls = ?, denied = ?, held = ?, masked = ?, "
                "ended_at = coalesce(?, ended_at) WHERE id = ?",
                (offset, seq, head, counts["calls"], counts["denied"], counts["held"],
                 counts["masked"], ended, session_id))
            if ended is not None:
                # First sight of a sealed log (e.g. after the index was deleted): remember it.
                self.conn.execute("UPDATE audit_sessions SET sealed_head = coalesce("
                                  "sealed_head, ?), sealed_records = coalesce(sealed_records, ?)"
                                  " WHERE id = ?", (head, seq, session_id))


def _request_row(session_id: str, r: dict[str, Any]) -> tuple[Any, ...]:
    return (session_id, r.get("seq"), r.get("t"), r.get("verb"), r.get("group"),
            r.get("resource"), r.get("subresource"), r.get("namespace"), r.get("name"),
            r.get("status"), r.get("decision"), r.get("rule"), r.get("masked"), r.get("ms"),
            r.get("command"))
