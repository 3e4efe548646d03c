"""Holds in SQLite (``$KGATE_HOME/kgate.db``, component ``holds``), shared by every process.

The proxy creates a hold and polls it; ``kgate approve``/``deny`` in another terminal decide it.
Each decision and each admission is one conditional UPDATE inside ``BEGIN IMMEDIATE``, so of two
approvers exactly one wins, and an approved hold admits its request exactly once. Calls are
synchronous and short; the proxy runs them off its event loop (``asyncio.to_thread``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from kgate.db import connect, migrate, transaction
from kgate.grants.errors import AlreadyDecided, NotFound
from kgate.holds.model import (
    APPROVED,
    CONSUMED,
    DENIED,
    PENDING,
    Hold,
    HoldRequest,
    new_hold_id,
)

_STEPS = ("""
CREATE TABLE holds (
    id TEXT PRIMARY KEY,
    session TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    verb TEXT NOT NULL,
    api_group TEXT NOT NULL,
    resource TEXT NOT NULL,
    subresource TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    rule TEXT NOT NULL,
    message TEXT NOT NULL,
    kubectl_command TEXT,
    body TEXT,
    diff TEXT,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    timeout_at REAL NOT NULL,
    replay_until REAL NOT NULL,
    replay_window REAL NOT NULL,
    decided_at REAL,
    decided_by TEXT,
    reason TEXT,
    consumed_at REAL
);
CREATE INDEX holds_state ON holds (state, created_at);
CREATE INDEX holds_replay ON holds (session, method, path, body_sha256, state)
""",)


class HoldNotFound(NotFound):
    """No hold with that id."""


class HoldAlreadyDecided(AlreadyDecided):
    """The hold was approved, denied or expired before this decision."""


class HoldStore:
    """One connection to ``kgate.db``'s holds, safe to use from several threads."""

    def __init__(self, home: Path | None = None) -> None:
        self._conn = connect(home)
        self._lock = threading.Lock()
        with self._lock:
            migrate(self._conn, "holds", _STEPS)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def create(self, request: HoldRequest, timeout: float, replay_window: float,
               now: float | None = None) -> Hold:
        now = time.time() if now is None else now
        hold = Hold(id=new_hold_id(), request=request, state=PENDING, created_at=now,
                    timeout_at=now + timeout, replay_until=now + timeout + replay_window)
        r = request
        with self._lock, transaction(self._conn):
            self._conn.execute(
                "INSERT INTO holds (id, session, method, path, body_sha256, verb, api_group, "
                "resource, subresource, namespace, name, rule, message, kubectl_command, body, "
                "diff, state, created_at, timeout_at, replay_until, replay_window) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (hold.id, r.session, r.method, r.path, r.body_sha256, r.verb, r.api_group,
                 r.resource, r.subresource, r.namespace, r.name, r.rule, r.message,
                 r.kubectl_command, json.dumps(r.body) if r.body is not None else None, r.diff,
                 PENDING, now, hold.timeout_at, hold.replay_until, replay_window))
        return hold

    def get(self, hold_id: str) -> Hold | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM holds WHERE id = ?", (hold_id,)).fetchone()
        return _hold(row) if row is not None else None

    def pending(self, now: float | None = None) -> list[Hold]:
        """Holds a human may still decide (pending and not past their replay window)."""
        now = time.time() if now is None else now
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM holds WHERE state = ? AND replay_until > ? ORDER BY created_at",
                (PENDING, now)).fetchall()
        return [_hold(row) for row in rows]

    def _decide(self, hold_id: str, state: str, who: str, reason: str | None,
                now: float | None) -> Hold:
        now = time.time() if now is None else now
        with self._lock, transaction(self._conn):
            changed = self._conn.execute(
                "UPDATE holds SET state = ?, decided_at = ?, decided_by = ?, reason = ? "
                "WHERE id = ? AND state = ? AND replay_until > ?",
                (state, now, who, reason, hold_id, PENDING, now)).rowcount
            row = self._conn.execute("SELECT * FROM holds WHERE id = ?", (hold_id,)).fetchone()
        if row is None:
            raise HoldNotFound(f"no held request {hold_id}", hint="see 'kgate pending'")
        hold = _hold(row)
        if not changed:
            if hold.state == PENDING:
                raise HoldAlreadyDecided(f"{hold_id} expired; the agent must send the request "
                                         "again")
            by = f" by {hold.decided_by}" if hold.decided_by else ""
            raise HoldAlreadyDecided(f"{hold_id} was already {hold.state}{by}")
        return hold

    def approve(self, hold_id: str, approver: str, comment: str | None = None,
                now: float | None = None) -> Hold:
        return self._decide(hold_id, APPROVED, approver, comment, now)

    def deny(self, hold_id: str, approver: str, reason: str | None = None,
             now: float | None = None) -> Hold:
        return self._decide(hold_id, DENIED, approver, reason, now)

    def consume(self, hold_id: str, now: float | None = None) -> bool:
        """Admit an approved hold's request; True for exactly one caller."""
        now = time.time() if now is None else now
        with self._lock, transaction(self._conn):
            return bool(self._conn.execute(
                "UPDATE holds SET state = ?, consumed_at = ? WHERE id = ? AND state = ?",
                (CONSUMED, now, hold_id, APPROVED)).rowcount)

    def claim_replay(self, session: str, method: str, path: str, body_sha256: str,
                     now: float | None = None) -> Hold | None:
        """The approved, unused hold of this exact request (if its window is open), consumed."""
        now = time.time() if now is None else now
        with self._lock, transaction(self._conn):
            row = self._conn.execute(
                "SELECT * FROM holds WHERE session = ? AND method = ? AND path = ? AND "
                "body_sha256 = ? AND state = ? AND decided_at + replay_window > ? "
                "ORDER BY created_at LIMIT 1",
                (session, method, path, body_sha256, APPROVED, now)).fetchone()
            if row is None:
                return None
            self._conn.execute("UPDATE holds SET state = ?, consumed_at = ? WHERE id = ?",
                               (CONSUMED, now, row["id"]))
        return _hold(row)


def _hold(row: sqlite3.Row) -> Hold:
    body: Any = json.loads(row["body"]) if row["body"] is not None else None
    request = HoldRequest(
        session=row["session"], method=row["method"], path=row["path"],
        body_sha256=row["body_sha256"], verb=row["verb"], api_group=row["api_group"],
        resource=row["resource"], subresource=row["subresource"], namespace=row["namespace"],
        name=row["name"], rule=row["rule"], message=row["message"],
        kubectl_command=row["kubectl_command"], body=body, diff=row["diff"])
    return Hold(id=row["id"], request=request, state=row["state"], created_at=row["created_at"],
                timeout_at=row["timeout_at"], replay_until=row["replay_until"],
                decided_at=row["decided_at"], decided_by=row["decided_by"],
                reason=row["reason"], consumed_at=row["consumed_at"])
