"""The session watchdog: every open exchange is registered, and ending the grant cuts them all.

Watches, ``logs -f``, exec/attach and port-forward can outlive the check that admitted them, so
refusing new requests is not enough when a grant ends. The server registers each exchange for its
lifetime (``track``); the runner's grant watch calls ``cut_all`` when the grant is over, which
aborts every connection open at that moment (the agent sees the stream break). Later requests
are not cut: the scope stage refuses them with a Status that says the grant is over.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Abortable(Protocol):
    def abort(self) -> None: ...


class SessionWatchdog:
    def __init__(self) -> None:
        self._open: set[Abortable] = set()

    @property
    def open_count(self) -> int:
        return len(self._open)

    @contextmanager
    def track(self, exchange: Abortable) -> Iterator[None]:
        self._open.add(exchange)
        try:
            yield
        finally:
            self._open.discard(exchange)

    def cut_all(self) -> int:
        """Abort every open exchange; return how many were open."""
        victims = list(self._open)
        for exchange in victims:
            exchange.abort()
        return len(victims)
