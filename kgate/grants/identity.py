"""Who is acting: an ``Identity`` is a string a cluster could match, plus groups.

Local mode (no OIDC issuer configured) knows one identity, ``local:<os user>``. OIDC identities
(``alice@example.com`` with the token's groups) arrive with ``kgate login``: they are another
``IdentityProvider`` behind the same seam, and approval code never asks which one it got.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kgate.grants.rules import local_user


@dataclass(frozen=True)
class Identity:
    name: str
    groups: tuple[str, ...] = ()

    @property
    def is_local(self) -> bool:
        """Local mode: the agent runs as the same OS user and could be this identity."""
        return self.name.startswith("local:")

    def __str__(self) -> str:
        return self.name


class IdentityProvider(Protocol):
    def current(self) -> Identity: ...


class LocalIdentityProvider:
    """``local:<os user>``: what kgate knows without an identity provider."""

    def current(self) -> Identity:
        return Identity(local_user())


def current_identity() -> Identity:
    """The identity of whoever runs this command (OIDC joins here with ``kgate login``)."""
    return LocalIdentityProvider().current()
