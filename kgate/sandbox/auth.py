"""Who is calling the sandbox API server: static bearer tokens and, optionally, OIDC ID tokens.

This mirrors kube-apiserver's token authenticators closely enough for kubectl: a static token
file (``--token-auth-file``) and ``--oidc-issuer-url``/``--oidc-client-id``. A request with no or
an unknown token is answered 401 by the server, never treated as anonymous.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class UserInfo:
    """The authenticated identity, shaped like Kubernetes ``user.Info``."""

    username: str
    groups: tuple[str, ...] = ("system:authenticated",)
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class TokenVerifier(Protocol):
    """Verifies a bearer token that is not a static token (e.g. an OIDC ID token)."""

    async def verify(self, token: str) -> UserInfo | None:
        """Return the identity for a valid token, ``None`` for an invalid one."""
        ...


class Authenticator:
    """Resolves an ``Authorization`` header to a ``UserInfo`` (or ``None``: answer 401)."""

    def __init__(self, static_tokens: Mapping[str, UserInfo],
                 verifier: TokenVerifier | None = None) -> None:
        self._static = dict(static_tokens)
        self._verifier = verifier

    async def authenticate(self, authorization: str | None) -> UserInfo | None:
        """Check a raw ``Authorization`` header value."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        user = self._static.get(token)
        if user is not None:
            return user
        if self._verifier is not None:
            return await self._verifier.verify(token)
        return None
