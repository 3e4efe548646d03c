"""The user's current login: stored tokens, validated again when used, refreshed silently.

``CurrentLogin`` reads ``[oidc]`` from config.toml and the tokens from the token store. Stored
tokens are re-validated (signature and claims) before anyone relies on them, because the store is
writable by anything running as the user. An ID token that expires within ``min_valid`` seconds
is refreshed (the rotated refresh token saved at once); a refused refresh means the user must
log in again: ``AuthError`` (exit 4) saying "run kgate login".
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kgate.auth.client import RELOGIN, OidcClient
from kgate.auth.idtoken import unverified_claims
from kgate.auth.settings import OidcSettings, load_oidc_settings
from kgate.auth.store import StoredTokens, TokenStore, open_store
from kgate.errors import AuthError


@contextlib.contextmanager
def _refresh_lock(home: Path) -> Iterator[None]:
    fd = os.open(home / "oidc-refresh.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def refresh_point(claims: dict[str, Any]) -> float:
    """When an ID token is due for refresh: a third of its lifetime (at most 60 s) before exp."""
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float):
        return float("-inf")
    lifetime = exp - iat if isinstance(iat, int | float) else 0
    return float(exp) - min(60.0, max(1.0, lifetime / 3))


class NotLoggedIn(AuthError):
    """No OIDC provider configured, or no tokens stored for it."""


class CurrentLogin:
    """Tokens of the configured provider, kept fresh; thread-safe (the proxy calls it)."""

    def __init__(self, home: Path, *, settings: OidcSettings | None = None,
                 store: TokenStore | None = None, clock: Callable[[], float] = time.time
                 ) -> None:
        found = settings or load_oidc_settings(home)
        if found is None:
            raise NotLoggedIn("no OIDC provider is configured",
                              hint="run kgate login --issuer URL --client-id ID")
        self.settings: OidcSettings = found
        self.home = home
        self.store = store or open_store(home)
        self._clock = clock
        self._lock = threading.Lock()
        self._client: OidcClient | None = None
        self._checked: str | None = None  # the ID token last validated

    def client(self) -> OidcClient:
        if self._client is None:
            tokens = self.store.load(self.settings.account)
            secret = tokens.client_secret if tokens else None
            self._client = OidcClient(self.settings, client_secret=secret, clock=self._clock)
        return self._client

    def stored(self) -> StoredTokens:
        tokens = self.store.load(self.settings.account)
        if tokens is None:
            raise NotLoggedIn(f"not logged in to {self.settings.issuer}", hint=RELOGIN)
        return tokens

    def _due(self, tokens: StoredTokens, min_valid: float | None
             ) -> tuple[bool, dict[str, Any]]:
        claims = unverified_claims(tokens.id_token)
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            return True, claims
        if min_valid is None:
            return self._clock() >= refresh_point(claims), claims
        return exp - self._clock() < min_valid, claims

    def fresh(self, min_valid: float | None = None) -> tuple[StoredTokens, dict[str, Any]]:
        """Tokens whose ID token is valid for at least ``min_valid`` more seconds (default: a
        third of its lifetime, at most 60 s), and its verified claims; refreshes (and stores
        the result) when needed.

        Refreshing is serialised across processes (a lock file in ``$KGATE_HOME``) and the
        store is read again under the lock: providers rotate refresh tokens and treat a reused
        one as theft (revoking the whole login), so the proxy and a ``kgate whoami`` must never
        both spend the same refresh token.
        """
        with self._lock:
            tokens = self.stored()
            due, claims = self._due(tokens, min_valid)
            if due:
                with _refresh_lock(self.home):
                    tokens = self.stored()  # another process may have refreshed meanwhile
                    due, claims = self._due(tokens, min_valid)
                    if due:
                        tokens = self.client().refresh(tokens, expect_sub=claims.get("sub"))
                        self.store.save(self.settings.account, tokens)
                        self._checked = tokens.id_token  # refresh() validated it
                        return tokens, unverified_claims(tokens.id_token)
            if self._checked != tokens.id_token:
                claims = self.client().validate(tokens.id_token, nonce=None)
                self._checked = tokens.id_token
            return tokens, claims

    def replace(self, tokens: StoredTokens) -> None:
        """Store tokens from a new (validated) login, e.g. after a step-up."""
        with self._lock:
            self.store.save(self.settings.account, tokens)
            self._checked = tokens.id_token
