"""Which processes are agents: the PIDs kgate sessions run their agent as.

In local mode the agent runs as the same OS user as the human, so ``kgate approve`` refuses to
run from inside an agent's process tree. The proxy records the agent's PID (when it starts the
agent) with the process's start time, so a PID the kernel reuses later is not mistaken for it.
Linux ``/proc`` is read; elsewhere the ancestry check finds nothing and only ``KGATE_SESSION``
guards (local mode cannot stop a determined same-user agent; the docs say so).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from kgate import db

_STEPS = [
    """
    CREATE TABLE session_agents (
        session_id TEXT NOT NULL, pid INTEGER NOT NULL, start_ticks INTEGER NOT NULL,
        started_at REAL NOT NULL, ended_at REAL, PRIMARY KEY (session_id, pid));
    CREATE INDEX session_agents_pid ON session_agents (pid);
    """,
]


def process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[19])


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[1])


def ancestors(pid: int | None = None) -> list[int]:
    """``pid`` (default: this process) and every ancestor up to init."""
    chain: list[int] = []
    current: int | None = os.getpid() if pid is None else pid
    while current and current not in chain:
        chain.append(current)
        current = parent_of(current)
    return chain


class SessionAgents:
    """The ``session_agents`` table of ``kgate.db``."""

    def __init__(self, home: Path | None = None) -> None:
        self._conn = db.connect(home)
        db.migrate(self._conn, "session_agents", _STEPS)

    def close(self) -> None:
        self._conn.close()

    def record(self, session_id: str, pid: int) -> None:
        start = process_start(pid)
        with db.transaction(self._conn) as conn:
            conn.execute("INSERT OR REPLACE INTO session_agents "
                         "(session_id, pid, start_ticks, started_at) VALUES (?, ?, ?, ?)",
                         (session_id, pid, -1 if start is None else start, time.time()))

    def end(self, session_id: str) -> None:
        with db.transaction(self._conn) as conn:
            conn.execute("UPDATE session_agents SET ended_at = ? WHERE session_id = ? "
                         "AND ended_at IS NULL", (time.time(), session_id))

    def session_among(self, pids: list[int]) -> tuple[str, int] | None:
        """(session id, pid) of a live recorded agent among ``pids``, if any."""
        for pid in pids:
            for row in self._conn.execute(
                    "SELECT session_id, start_ticks FROM session_agents WHERE pid = ? "
                    "AND ended_at IS NULL", (pid,)):
                if row["start_ticks"] in (-1, process_start(pid)):
                    return str(row["session_id"]), pid
        return None
