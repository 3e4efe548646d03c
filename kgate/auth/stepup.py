"""Step-up for approvals: a login recent enough that an agent holding tokens cannot fake it.

A refresh keeps the ID token's ``auth_time`` (the time the person last typed their password),
so an agent that copies the refresh token gets fresh ID tokens but never a recent ``auth_time``.
``require_recent_login`` checks the *validated* stored ID token's ``auth_time`` against
``max_age``; ``step_up`` runs a browser login with ``prompt=login`` and ``max_age`` (the provider
must show its login form again) and refuses the result unless ``auth_time`` moved to after the
step-up began. ``kgate approve`` (grants) calls the first and, on ``StepUpRequired``, the second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from kgate.auth.current import CurrentLogin
from kgate.auth.flows import LOGIN_TIMEOUT, browser_login
from kgate.auth.identity import OidcIdentity
from kgate.auth.idtoken import unverified_claims
from kgate.auth.store import StoredTokens
from kgate.errors import AuthError

STEP_UP_SKEW = 5.0  # seconds the provider's clock may trail ours when stamping auth_time


class StepUpRequired(AuthError):
    """The last real sign-in is older than allowed."""


def _ago(seconds: float) -> str:
    return f"{seconds / 60:.0f}m" if seconds >= 120 else f"{seconds:.0f}s"


def require_recent_login(home: Path, max_age_s: float, *,
                         clock: Callable[[], float] = time.time) -> OidcIdentity:
    """The identity, if its last sign-in at the provider is within ``max_age_s``."""
    _, claims = CurrentLogin(home, clock=clock).fresh()
    identity = OidcIdentity.from_claims(claims)
    if identity.auth_time is None:
        raise StepUpRequired("the provider does not report auth_time, so a recent sign-in "
                             "cannot be proven", hint="configure the client to require "
                                                      "auth_time at the provider")
    age = clock() - identity.auth_time
    if age > max_age_s:
        raise StepUpRequired(f"this needs a sign-in within the last {_ago(max_age_s)}; "
                             f"{identity.principal} last signed in {_ago(age)} ago",
                             hint="sign in again (kgate login --max-age "
                                  f"{int(max_age_s)})")
    return identity


def step_up(home: Path, max_age_s: float, *, show_url: Callable[[str, bool], None],
            open_browser: bool = True, port: int = 0, timeout: float = LOGIN_TIMEOUT,
            clock: Callable[[], float] = time.time) -> OidcIdentity:
    """Force a fresh sign-in (``prompt=login``, ``max_age``) and store its tokens."""
    login = CurrentLogin(home, clock=clock)
    started = clock()
    tokens = browser_login(login.client(), show_url=show_url, open_browser=open_browser,
                           port=port, timeout=timeout, prompt="login",
                           max_age=int(max_age_s))
    identity = OidcIdentity.from_claims(unverified_claims(tokens.id_token))  # validated above
    if identity.auth_time is None or identity.auth_time < started - STEP_UP_SKEW:
        raise StepUpRequired("the provider did not ask for the password again (auth_time is "
                             "older than this sign-in)",
                             hint="the provider must honour prompt=login")
    previous = login.store.load(login.settings.account)
    if tokens.refresh_token is None and previous is not None and previous.refresh_token:
        old_sub = unverified_claims(previous.id_token).get("sub")
        if old_sub == identity.subject:
            # oidc-provider (per OIDC Core) issues no refresh token without consent: keep ours.
            tokens = StoredTokens(tokens.id_token, tokens.access_token, previous.refresh_token,
                                  tokens.access_expires_at, client_secret=tokens.client_secret)
    login.replace(tokens)
    return identity
