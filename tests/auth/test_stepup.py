"""Step-up: approving needs a sign-in newer than maxAuthAge; holding tokens is not enough."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kgate.auth.current import CurrentLogin
from kgate.auth.identity import OidcIdentity, current_identity
from kgate.auth.idtoken import unverified_claims
from kgate.auth.stepup import StepUpRequired, require_recent_login, step_up
from kgate.errors import ExitCode
from tests.auth.conftest import login_in_process
from tests.fixtures.idp import OIDCProvider


def _wait_until(ts: float) -> None:
    while time.time() < ts:
        time.sleep(0.05)


@pytest.mark.timeout(120)
def test_old_login_is_refused_and_step_up_fixes_it(home: Path,
                                                   oidc_provider: OIDCProvider) -> None:
    browser = oidc_provider.browser()
    try:
        first = login_in_process(oidc_provider, home, "alice", browser=browser)
        first_auth = unverified_claims(first.id_token)["auth_time"]
        assert browser.logins == 1
        assert require_recent_login(home, 60).email == "alice@example.com"

        _wait_until(first_auth + 3)
        with pytest.raises(StepUpRequired, match="sign-in within the last 2s") as caught:
            require_recent_login(home, 2)
        assert caught.value.exit_code == ExitCode.AUTH
        assert caught.value.hint and "kgate login --max-age" in caught.value.hint

        # An agent holding the refresh token gets new ID tokens, but not a recent sign-in.
        CurrentLogin(home).fresh(min_valid=float("inf"))
        refreshed = CurrentLogin(home).stored()
        assert refreshed.id_token != first.id_token
        assert unverified_claims(refreshed.id_token)["auth_time"] == first_auth
        with pytest.raises(StepUpRequired):
            require_recent_login(home, 2)

        # The step-up: the provider shows its login form again (despite the IdP session).
        identity = step_up(home, 2, open_browser=False, timeout=30,
                           show_url=lambda url, _: browser.authorize(url, "alice",
                                                                     deliver=True))
        assert browser.logins == 2
        assert identity.auth_time is not None and identity.auth_time > first_auth
        assert require_recent_login(home, 2).subject == "alice"
        # The refresh token survived the step-up (prompt=login issues none).
        assert CurrentLogin(home).stored().refresh_token
    finally:
        browser.close()


@pytest.mark.timeout(60)
def test_forged_recent_auth_time_in_the_store_is_refused(home: Path,
                                                         oidc_provider: OIDCProvider) -> None:
    """An agent that rewrites the stored ID token with a fresh auth_time breaks the signature."""
    import base64
    import json

    from kgate.auth.idtoken import TokenInvalid
    from kgate.auth.store import FileStore, StoredTokens

    tokens = login_in_process(oidc_provider, home, "alice")
    header, payload, signature = tokens.id_token.split(".")
    claims = unverified_claims(tokens.id_token) | {"auth_time": int(time.time()) + 10}
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    forged = f"{header}.{forged_payload.decode()}.{signature}"
    store = FileStore(home)
    account = f"{oidc_provider.issuer} kgate-cli"
    store.save(account, StoredTokens(forged, tokens.access_token, tokens.refresh_token,
                                     tokens.access_expires_at))
    with pytest.raises(TokenInvalid, match="signature"):
        require_recent_login(home, 300)


@pytest.mark.timeout(60)
def test_current_identity_for_grants(home: Path, oidc_provider: OIDCProvider) -> None:
    assert current_identity(home) is None  # local mode: no [oidc] configured
    login_in_process(oidc_provider, home, "alice")
    identity = current_identity(home)
    assert identity == OidcIdentity(subject="alice", email="alice@example.com",
                                    groups=("sre", "dev"), issuer=oidc_provider.issuer,
                                    auth_time=identity.auth_time if identity else None,
                                    expires_at=identity.expires_at if identity else None)
    assert identity is not None
    assert identity.principal == "alice@example.com"
    assert identity.matches("alice@example.com") and identity.matches("group:sre")
    assert not identity.matches("group:admins") and not identity.matches("bob@example.com")


@pytest.mark.timeout(60)
def test_unverified_email_is_not_a_principal(home: Path, oidc_provider: OIDCProvider) -> None:
    login_in_process(oidc_provider, home, "eve")
    identity = current_identity(home)
    assert identity is not None and identity.email is None
    assert identity.principal == f"{oidc_provider.issuer}#eve"
    assert not identity.matches("eve@example.com")
