"""The one SQLite file kgate keeps state in (``$KGATE_HOME/kgate.db``) and how it is opened.

Several processes use it at once — a proxy, ``kgate approve`` in another terminal, a second
proxy — so every connection runs in WAL mode with a generous busy timeout, and every write is a
short ``BEGIN IMMEDIATE`` transaction (``transaction``) so two writers queue instead of failing
with "database is locked". Each component (grants, holds, the session index) owns its tables and
migrates them itself; ``migrate`` records each component's schema version in one shared table, so
components never fight over ``PRAGMA user_version``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from kgate.config import kgate_home

DB_NAME = "kgate.db"
BUSY_TIMEOUT_S = 30.0


def connect(home: Path | None = None) -> sqlite3.Connection:
    """Open (creating 0600 if needed) ``kgate.db`` under ``home`` (default ``$KGATE_HOME``)."""
    path = (home if home is not None else kgate_home()) / DB_NAME
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        path.touch(mode=0o600)
    # isolation_level=None: we issue BEGIN ourselves, so a read never holds a write lock.
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the write lock up front (``BEGIN IMMEDIATE``)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection, component: str, steps: Sequence[str]) -> int:
    """Bring ``component``'s tables up to ``len(steps)``; return the version now in force.

    ``steps[i]`` is the SQL script that takes the component from version ``i`` to ``i + 1``.
    Steps are append-only: never edit one that has shipped, add a new one.
    """
    with transaction(conn):
        conn.execute("CREATE TABLE IF NOT EXISTS schema_versions ("
                     "component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_versions WHERE component = ?",
                           (component,)).fetchone()
        current = int(row[0]) if row else 0
        if current > len(steps):
            raise sqlite3.DatabaseError(
                f"{DB_NAME}: {component} schema version {current} is newer than this kgate "
                f"knows ({len(steps)}); upgrade kgate")
        for script in steps[current:]:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
        if len(steps) != current:
            conn.execute("INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                         "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                         (component, len(steps)))
    return len(steps)
