"""Who is acting: an ``Identity`` is a string a cluster could match, plus groups.

Local mode (no OIDC issuer configured) knows one identity, ``local:<os user>``. With an issuer
(``kgate login``), the identity is the signed-in person (``alice@example.com`` with the token's
groups) — another ``IdentityProvider`` behind the same seam; approval code never asks which one
it got. For approvals the OIDC provider also demands a recent sign-in (step-up).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
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


class OidcIdentityProvider:
    """The person ``kgate login`` signed in (validated ID token; refreshed if needed).

    With ``max_auth_age`` (approvals) the sign-in itself must be that recent: otherwise the user
    signs in again (``prompt=login``), so an agent holding the refresh token cannot approve.
    """

    def __init__(self, home: Path, max_auth_age: float | None = None,
                 show_url: Callable[[str, bool], None] | None = None) -> None:
        self._home, self._max_age, self._show_url = home, max_auth_age, show_url

    def current(self) -> Identity:
        from kgate.auth.identity import current_identity as oidc_identity
        from kgate.auth.stepup import StepUpRequired, require_recent_login, step_up

        if self._max_age is None:
            found = oidc_identity(self._home)
            assert found is not None   # only built when an issuer is configured
            return Identity(found.principal, found.groups)
        try:
            person = require_recent_login(self._home, self._max_age)
        except StepUpRequired:
            if self._show_url is None:
                raise
            person = step_up(self._home, self._max_age, show_url=self._show_url)
        return Identity(person.principal, person.groups)


def current_identity(max_auth_age: float | None = None,
                     show_url: Callable[[str, bool], None] | None = None) -> Identity:
    """Whoever runs this command: the OIDC identity when an issuer is configured (signed in
    within ``max_auth_age`` seconds, for approvals), else ``local:<os user>``."""
    from kgate.auth.settings import load_oidc_settings
    from kgate.config import kgate_home

    home = kgate_home()
    if load_oidc_settings(home) is None:
        return LocalIdentityProvider().current()
    return OidcIdentityProvider(home, max_auth_age, show_url).current()
