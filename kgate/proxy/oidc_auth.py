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

from kgate.auth.current import CurrentLogin
from kgate.proxy.credentials import cluster_tls_context
from kgate.upstream_config import UpstreamSettings


class OidcUpstreamAuth:
    """The ID token of the current login as the upstream bearer."""

    def __init__(self, settings: UpstreamSettings, login: CurrentLogin) -> None:
        self._settings = settings
        self._login = login
        self._ctx: ssl.SSLContext | None = None
        self._lock = asyncio.Lock()
        self._force = False
        self._last: str | None = None
        self.refreshes = 0  # how often the bearer changed during this run (tests look)

    async def authorization(self) -> str:
        async with self._lock:
            min_valid = float("inf") if self._force else None
            tokens, _ = await asyncio.to_thread(self._login.fresh, min_valid)
            if self._last is not None and tokens.id_token != self._last:
                self.refreshes += 1
            self._last = tokens.id_token
            self._force = False
            return f"Bearer {tokens.id_token}"

    async def ssl_context(self) -> ssl.SSLContext:
        if self._ctx is None:
            self._ctx = cluster_tls_context(self._settings, client_cert=False)
        return self._ctx

    def on_unauthorized(self) -> None:
        self._force = True
