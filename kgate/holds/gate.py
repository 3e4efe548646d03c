"""Pause and resume: a held call waits for a human's decision, bounded by ``holdTimeout``.

``HoldGate.hold`` stores the hold, runs ``holds.notify`` (never waiting on it), then polls the
store every ``poll`` seconds — the decision usually comes from another process (``kgate
approve`` in the user's terminal), and SQLite is the one place both can see. The wait is a plain
``asyncio.sleep`` loop, so the agent's other calls go on meanwhile and kubectl's connection just
stays open (the proxy's server times out only a request head or an idle connection, never a
running exchange; kubectl's default request timeout is none). ``replay`` admits the same
request once after a late approval.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from kgate.holds.model import APPROVED, DENIED, Hold, HoldRequest
from kgate.holds.store import HoldStore

log = logging.getLogger("kgate.holds")

NOTIFY_TIMEOUT = 30.0


@dataclass(frozen=True)
class HoldOutcome:
    result: Literal["approved", "denied", "timeout"]
    hold: Hold


class HoldGate:
    """Holds for one proxy run: create, notify, wait, admit."""

    def __init__(self, store: HoldStore, timeout: float, replay_window: float,
                 notify: Sequence[str] = (), poll: float = 0.2) -> None:
        self.store = store
        self.timeout = timeout
        self.replay_window = replay_window
        self.notify = tuple(notify)
        self.poll = poll
        self._tasks: set[asyncio.Task[None]] = set()

    async def replay(self, session: str, method: str, path: str, body_sha256: str
                     ) -> Hold | None:
        """The approved hold of this same request, consumed — or None (hold it again)."""
        return await asyncio.to_thread(self.store.claim_replay, session, method, path,
                                       body_sha256)

    async def hold(self, request: HoldRequest) -> HoldOutcome:
        hold = await asyncio.to_thread(self.store.create, request, self.timeout,
                                       self.replay_window)
        log.warning("kgate: held %s for review: %s", hold.id, request.summary)
        if self.notify:
            task = asyncio.create_task(self._notify(hold))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        while True:
            current = await asyncio.to_thread(self.store.get, hold.id) or hold
            if current.state == APPROVED:
                if await asyncio.to_thread(self.store.consume, hold.id):
                    return HoldOutcome("approved", current)
                # Admitted elsewhere (an identical call replayed it first): not twice.
                return HoldOutcome("timeout", current)
            if current.state == DENIED:
                return HoldOutcome("denied", current)
            if current.state != "pending":
                return HoldOutcome("timeout", current)
            remaining = hold.timeout_at - time.time()
            if remaining <= 0:
                return HoldOutcome("timeout", current)
            await asyncio.sleep(min(self.poll, remaining))

    async def _notify(self, hold: Hold) -> None:
        """Run ``holds.notify`` with the hold as JSON on stdin; failures are logged only."""
        payload = json.dumps(hold.to_json(), default=str).encode()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.notify, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        except OSError as err:
            log.warning("kgate: holds.notify %s could not start: %s", self.notify[0],
                        err.strerror or err)
            return
        try:
            await asyncio.wait_for(proc.communicate(payload), NOTIFY_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            log.warning("kgate: holds.notify %s did not finish in %.0fs; killed",
                        self.notify[0], NOTIFY_TIMEOUT)
            return
        if proc.returncode:
            log.warning("kgate: holds.notify %s exited %s for %s", self.notify[0],
                        proc.returncode, hold.id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.to_thread(self.store.close)
