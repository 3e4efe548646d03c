"""Serving in the foreground until Ctrl-C or SIGTERM: the one helper ``kgate proxy`` and
``kgate sandbox`` share, so both stop the same way (handlers removed, cleanup always run, exit 0
for SIGTERM and 130 for Ctrl-C, no traceback).

Handlers are installed *before* the caller announces readiness (writes its kubeconfig), so a
script that signals as soon as the file appears still gets a clean stop.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from kgate.errors import ExitCode

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignal:
    def __init__(self) -> None:
        self._stopped = asyncio.Event()
        self._received: list[int] = []

    def _on_signal(self, signum: int) -> None:
        self._received.append(signum)
        self._stopped.set()

    async def wait(self) -> ExitCode:
        """Wait for SIGINT or SIGTERM; return the exit code that signal means."""
        await self._stopped.wait()
        return ExitCode.INTERRUPTED if self._received[0] == signal.SIGINT else ExitCode.OK


@contextmanager
def stop_signals() -> Iterator[StopSignal]:
    """Catch SIGINT and SIGTERM on the running loop while the block runs."""
    stop = StopSignal()
    loop = asyncio.get_running_loop()
    for signum in _SIGNALS:
        loop.add_signal_handler(signum, stop._on_signal, signum)
    try:
        yield stop
    finally:
        for signum in _SIGNALS:
            loop.remove_signal_handler(signum)
