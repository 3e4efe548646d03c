"""``UpstreamAuth`` with the user's own OIDC ID token (``kgate proxy --upstream-auth oidc``).

For clusters that trust the issuer (kube-apiserver ``--oidc-issuer-url``, the sandbox's
``--oidc-issuer-url``), the bearer is the ID token of ``kgate login``. It is refreshed *before*
it expires (``CurrentLogin.fresh``: when less than a third of its lifetime, at most 60 s, is
left), so a long session never sends an expired token and needs no restart; a 401 forces a
refresh on the next call. Refreshing does blocking HTTP, so it runs in a worker thread, one at a
time. The cluster's address and CA still come from the kubeconfig; its credential is not used.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable

from kgate.auth.current import CurrentLogin, refresh_point
from kgate.proxy.credentials import cluster_tls_context
from kgate.upstream_config import UpstreamSettings


class OidcUpstreamAuth:
    """The ID token of the current login as the upstream bearer."""

    def __init__(self, settings: UpstreamSettings, login: CurrentLogin,
                 clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._login = login
        self._clock = clock
        self._ctx: ssl.SSLContext | None = None
        self._lock = asyncio.Lock()
        self._force = False
        self._bearer: str | None = None
        self._refresh_at = float("-inf")
        self.refreshes = 0  # how often the bearer changed during this run (tests look)

    async def authorization(self) -> str:
        # The hot path: a cached bearer until its refresh point (no store read, no thread).
        if not self._force and self._bearer is not None and self._clock() < self._refresh_at:
            return self._bearer
        async with self._lock:
            if self._force or self._bearer is None or self._clock() >= self._refresh_at:
                min_valid = float("inf") if self._force else None
                tokens, claims = await asyncio.to_thread(self._login.fresh, min_valid)
                bearer = f"Bearer {tokens.id_token}"
                if self._bearer is not None and bearer != self._bearer:
                    self.refreshes += 1
                self._bearer = bearer
                self._refresh_at = refresh_point(claims)
                self._force = False
            return self._bearer

    async def ssl_context(self) -> ssl.SSLContext:
        if self._ctx is None:
            self._ctx = cluster_tls_context(self._settings, client_cert=False)
        return self._ctx

    def on_unauthorized(self) -> None:
        self._force = True
