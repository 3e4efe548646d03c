"""The grant watch: one task per proxy run that notices the grant ending, whoever ended it.

Expiry is known in advance, so the task sleeps at most until then; a revoke or a denial can come
from any process (``kgate revoke`` in another terminal), so it also re-reads the grant from the
store every ``POLL_INTERVAL`` (one indexed SQLite read, WAL: never blocked by a writer). When the
grant is over it updates the scope stage (new requests get the 403 at once) and has the watchdog
cut every open stream. A store that cannot be read fails closed the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time

from kgate.grants.store import GrantStore
from kgate.proxy.stages.scope import GrantScoped
from kgate.proxy.watchdog import SessionWatchdog

log = logging.getLogger("kgate.proxy")

POLL_INTERVAL = 0.25


async def watch_grant(scope: GrantScoped, store: GrantStore, watchdog: SessionWatchdog,
                      interval: float = POLL_INTERVAL) -> None:
    grant_id = scope.grant.id
    while True:
        try:
            scope.update(store.get(grant_id))
        except Exception as err:  # fail closed: an unreadable store ends the grant's use
            log.error("kgate: cannot read grant %s (%s); cutting the session's streams",
                      grant_id, type(err).__name__)
            scope.fail(f"the grant store could not be read: {type(err).__name__}")
        if scope.is_over():
            cut = watchdog.cut_all()
            log.info("kgate: grant %s is over; cut %d open exchange(s)", grant_id, cut)
            return
        expires = scope.grant.expires_at
        delay = interval if expires is None else min(interval, max(0.0, expires - time.time()))
        await asyncio.sleep(delay)
