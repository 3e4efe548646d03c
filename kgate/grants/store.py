"""Where grants live: the ``GrantStore`` protocol and its SQLite implementation.

The protocol is what the CLI and the proxy use; a later team backend keeps grants as custom
resources in the cluster and implements the same calls (an approval is then a ``status`` update,
and "already approved" is a resourceVersion conflict). The SQLite store shares ``kgate.db`` with
the other components: every decision is one ``BEGIN IMMEDIATE`` transaction that re-reads the row,
so two approvers in two processes queue, and the second one sees the first one's decision.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from kgate import db
from kgate.grants.errors import AlreadyDecided, NotFound
from kgate.grants.model import Grant, GrantState, rfc3339

_STEPS = [
    """
    CREATE TABLE grants (
        id TEXT PRIMARY KEY, state TEXT NOT NULL, requester TEXT NOT NULL,
        namespaces TEXT NOT NULL, verbs TEXT NOT NULL, resources TEXT NOT NULL,
        cluster_resources TEXT NOT NULL, ttl REAL NOT NULL, created_at REAL NOT NULL,
        pending_until REAL NOT NULL, reason TEXT, context TEXT, approver TEXT,
        approved_at REAL, expires_at REAL, comment TEXT, auto_approved TEXT, ended_by TEXT,
        ended_at REAL, end_reason TEXT);
    CREATE INDEX grants_state ON grants (state);
    CREATE TABLE grant_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, grant_id TEXT NOT NULL, action TEXT NOT NULL,
        actor TEXT NOT NULL, at REAL NOT NULL, why TEXT);
    """,
]
_LISTS = ("namespaces", "verbs", "resources", "cluster_resources")
_COLUMNS = ("id", "state", "requester", *_LISTS, "ttl", "created_at", "pending_until", "reason",
            "context", "approver", "approved_at", "expires_at", "comment", "auto_approved",
            "ended_by", "ended_at", "end_reason")


class GrantStore(Protocol):
    """Grants and their decisions. Every method sees the effect of every other process's."""

    def create(self, grant: Grant) -> Grant: ...

    def get(self, grant_id: str, now: float | None = None) -> Grant:
        """The grant with its state as of ``now``; ``NotFound``."""
        ...

    def grants(self, *, include_ended: bool = False, now: float | None = None) -> list[Grant]: ...

    def approve(self, grant_id: str, approver: str, comment: str | None,
                now: float | None = None) -> Grant:
        """pending → active (TTL from now); ``AlreadyDecided`` if it is not pending any more."""
        ...

    def deny(self, grant_id: str, approver: str, reason: str | None,
             now: float | None = None) -> Grant: ...

    def revoke(self, grant_id: str, actor: str, reason: str | None,
               now: float | None = None) -> Grant:
        """active (or pending) → revoked; ``AlreadyDecided`` if it has ended."""
        ...

    def events(self, grant_id: str) -> list[dict[str, Any]]:
        """Who did what, when and why, oldest first."""
        ...


def _row_to_grant(row: sqlite3.Row) -> Grant:
    values: dict[str, Any] = {k: row[k] for k in _COLUMNS}
    for key in _LISTS:
        values[key] = tuple(json.loads(values[key]))
    values["state"] = GrantState(values["state"])
    return Grant(**values)


class SqliteGrantStore:
    """``GrantStore`` on ``$KGATE_HOME/kgate.db``."""

    def __init__(self, home: Path | None = None) -> None:
        self._conn = db.connect(home)
        db.migrate(self._conn, "grants", _STEPS)

    def close(self) -> None:
        self._conn.close()

    def create(self, grant: Grant) -> Grant:
        values = [getattr(grant, k) for k in _COLUMNS]
        for i, key in enumerate(_COLUMNS):
            if key in _LISTS:
                values[i] = json.dumps(list(values[i]))
            elif key == "state":
                values[i] = str(values[i])
        with db.transaction(self._conn) as conn:
            conn.execute(f"INSERT INTO grants ({', '.join(_COLUMNS)}) VALUES "
                         f"({', '.join('?' for _ in _COLUMNS)})", values)
            self._event(conn, grant.id, "request", grant.requester, grant.created_at,
                        grant.reason)
            if grant.state is GrantState.ACTIVE:
                self._event(conn, grant.id, "approve", grant.approver or "?",
                            grant.approved_at or grant.created_at, grant.comment)
        return grant

    def _read(self, conn: sqlite3.Connection, grant_id: str) -> Grant:
        row = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM grants WHERE id = ?",
                           (grant_id,)).fetchone()
        if row is None:
            raise NotFound(f"no grant {grant_id}", hint="'kgate grants --all' lists them")
        return _row_to_grant(row)

    def get(self, grant_id: str, now: float | None = None) -> Grant:
        return self._read(self._conn, grant_id).at(time.time() if now is None else now)

    def grants(self, *, include_ended: bool = False, now: float | None = None) -> list[Grant]:
        now = time.time() if now is None else now
        rows = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM grants "
                                  "ORDER BY created_at").fetchall()
        grants = [_row_to_grant(r).at(now) for r in rows]
        if include_ended:
            return grants
        return [g for g in grants if g.state in (GrantState.PENDING, GrantState.ACTIVE)]

    def _decide(self, grant_id: str, actor: str, why: str | None, now: float | None,
                action: str, allowed: tuple[GrantState, ...]) -> Grant:
        now = time.time() if now is None else now
        with db.transaction(self._conn) as conn:
            grant = self._read(conn, grant_id).at(now)
            if grant.state not in allowed:
                raise AlreadyDecided(_already(grant), hint="'kgate grants --all' shows it")
            if action == "approve":
                new = replace(grant, state=GrantState.ACTIVE, approver=actor, approved_at=now,
                              expires_at=now + grant.ttl, comment=why)
            elif action == "deny":
                new = replace(grant, state=GrantState.DENIED, approver=actor, ended_at=now,
                              comment=why)
            else:
                new = replace(grant, state=GrantState.REVOKED, ended_by=actor, ended_at=now,
                              end_reason=why)
            conn.execute("UPDATE grants SET state = ?, approver = ?, approved_at = ?, "
                         "expires_at = ?, comment = ?, ended_by = ?, ended_at = ?, "
                         "end_reason = ? WHERE id = ? AND state = ?",
                         (str(new.state), new.approver, new.approved_at, new.expires_at,
                          new.comment, new.ended_by, new.ended_at, new.end_reason, grant_id,
                          str(grant.state)))
            self._event(conn, grant_id, action, actor, now, why)
        return new

    def approve(self, grant_id: str, approver: str, comment: str | None,
                now: float | None = None) -> Grant:
        return self._decide(grant_id, approver, comment, now, "approve", (GrantState.PENDING,))

    def deny(self, grant_id: str, approver: str, reason: str | None,
             now: float | None = None) -> Grant:
        return self._decide(grant_id, approver, reason, now, "deny", (GrantState.PENDING,))

    def revoke(self, grant_id: str, actor: str, reason: str | None,
               now: float | None = None) -> Grant:
        return self._decide(grant_id, actor, reason, now, "revoke",
                            (GrantState.PENDING, GrantState.ACTIVE))

    def events(self, grant_id: str) -> list[dict[str, Any]]:
        rows = self._conn.execute("SELECT action, actor, at, why FROM grant_events "
                                  "WHERE grant_id = ? ORDER BY seq", (grant_id,)).fetchall()
        return [{"action": r["action"], "actor": r["actor"], "at": rfc3339(r["at"]),
                 "why": r["why"]} for r in rows]

    @staticmethod
    def _event(conn: sqlite3.Connection, grant_id: str, action: str, actor: str, at: float,
               why: str | None) -> None:
        conn.execute("INSERT INTO grant_events (grant_id, action, actor, at, why) "
                     "VALUES (?, ?, ?, ?, ?)", (grant_id, action, actor, at, why))


def _already(grant: Grant) -> str:
    state = grant.state
    if state is GrantState.ACTIVE:
        return f"{grant.id} is already approved (by {grant.approver} at " \
               f"{rfc3339(grant.approved_at)})"
    if state is GrantState.DENIED:
        return f"{grant.id} is already denied (by {grant.approver} at {rfc3339(grant.ended_at)})"
    if state is GrantState.REVOKED:
        return f"{grant.id} is already revoked (by {grant.ended_by} at " \
               f"{rfc3339(grant.ended_at)})"
    if grant.approved_at is None:
        return f"{grant.id} already expired unanswered at {rfc3339(grant.pending_until)}"
    return f"{grant.id} already expired at {rfc3339(grant.expires_at)}"
