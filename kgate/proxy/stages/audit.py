"""Audit: where each finished exchange is recorded.

The tamper-evident session log is a later issue; ``NoAudit`` records nothing (and says so), and
``MemoryAudit`` keeps the most recent records for the CLI summary and for tests.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from kgate.proxy.session import Exchange


class AuditSink(Protocol):
    def record(self, exchange: Exchange) -> None:
        """Called once per exchange after the reply ended (also for refusals and errors)."""
        ...


class NoAudit:
    """No session log configured."""

    def record(self, exchange: Exchange) -> None:
        return None


class MemoryAudit:
    """Keeps the last ``limit`` exchanges in memory."""

    def __init__(self, limit: int = 10_000) -> None:
        self.exchanges: deque[Exchange] = deque(maxlen=limit)

    def record(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)
