"""Who the user is, from a validated OIDC login: the identity grants and approvals record.

``current_identity(home)`` returns an ``OidcIdentity`` when an issuer is configured and the user
is logged in (the stored ID token validated again, refreshed if needed), ``None`` in local mode
(no ``[oidc]`` in config.toml). ``principal`` is the string a policy's ``approvers`` matches:
the verified email when the provider vouches for it, else ``<issuer>#<sub>``; ``group:<g>``
entries match ``groups``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgate.auth.current import CurrentLogin
from kgate.auth.settings import load_oidc_settings


@dataclass(frozen=True)
class OidcIdentity:
    """A person as the provider vouched for them in a validated ID token."""

    subject: str
    email: str | None
    groups: tuple[str, ...]
    issuer: str
    auth_time: int | None
    expires_at: int | None = None

    @property
    def principal(self) -> str:
        return self.email if self.email else f"{self.issuer}#{self.subject}"

    def matches(self, entry: str) -> bool:
        """Does an ``approvers`` entry (``alice@example.com`` or ``group:sre``) name me?"""
        if entry.startswith("group:"):
            return entry[len("group:"):] in self.groups
        return entry == self.principal

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> OidcIdentity:
        email = claims.get("email")
        verified = claims.get("email_verified", True) is True
        raw_groups = claims.get("groups")
        groups = [raw_groups] if isinstance(raw_groups, str) else raw_groups or []
        auth_time, exp = claims.get("auth_time"), claims.get("exp")
        return cls(subject=str(claims["sub"]),
                   email=email if isinstance(email, str) and email and verified else None,
                   groups=tuple(g for g in groups if isinstance(g, str)),
                   issuer=str(claims["iss"]),
                   auth_time=int(auth_time) if isinstance(auth_time, int | float) else None,
                   expires_at=int(exp) if isinstance(exp, int | float) else None)


def current_identity(home: Path) -> OidcIdentity | None:
    """The logged-in OIDC identity, or ``None`` in local mode; ``AuthError`` (exit 4) when an
    issuer is configured but the login is missing, revoked or expired."""
    if load_oidc_settings(home) is None:
        return None
    _, claims = CurrentLogin(home).fresh()
    return OidcIdentity.from_claims(claims)
