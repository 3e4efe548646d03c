"""The test OpenID provider itself: TLS discovery, code + PKCE, refresh, device flow, step-up."""

from __future__ import annotations

import ssl
import time
import urllib.request
from pathlib import Path

import pytest
import requests

from tests.fixtures.idp import BrowserError, OIDCProvider, TokenSet


def test_discovery_over_tls_with_its_ca(oidc_provider: OIDCProvider) -> None:
    ctx = ssl.create_default_context(cadata=oidc_provider.ca_pem.decode())
    url = f"{oidc_provider.issuer}/.well-known/openid-configuration"
    with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
        assert resp.status == 200
    doc = oidc_provider.discovery()
    assert doc["issuer"] == oidc_provider.issuer
    assert oidc_provider.issuer.startswith("https://127.0.0.1:")
    assert "urn:ietf:params:oauth:grant-type:device_code" in doc["grant_types_supported"]
    assert {"email", "groups", "auth_time"} <= set(doc["claims_supported"])


def test_tls_is_not_trusted_without_its_ca(oidc_provider: OIDCProvider) -> None:
    session = requests.Session()
    session.trust_env = False
    with pytest.raises(requests.exceptions.SSLError):
        session.get(f"{oidc_provider.issuer}/.well-known/openid-configuration", timeout=10)


def test_login_returns_id_token_with_email_groups_auth_time(oidc_provider: OIDCProvider) -> None:
    tokens = oidc_provider.login("alice")
    claims = tokens.unverified_claims()
    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == "kgate-cli"
    assert claims["sub"] == "alice"
    assert claims["email"] == "alice@example.com"
    assert claims["email_verified"] is True
    assert claims["groups"] == ["sre", "dev"]
    assert isinstance(claims["auth_time"], int)
    assert tokens.unverified_header()["alg"] == "RS256"
    assert tokens.refresh_token
    assert tokens.access_token


def test_refresh_gives_a_new_id_token_for_the_same_user(oidc_provider: OIDCProvider) -> None:
    first = oidc_provider.login("bob")
    assert first.refresh_token
    second = oidc_provider.refresh(first.refresh_token)
    assert second.refresh_token and second.refresh_token != first.refresh_token  # rotated
    assert second.unverified_claims()["sub"] == "bob"
    assert second.unverified_claims()["groups"] == ["dev"]
    assert second.unverified_claims()["auth_time"] == first.unverified_claims()["auth_time"]


def test_revoked_refresh_token_no_longer_works(oidc_provider: OIDCProvider) -> None:
    tokens = oidc_provider.login("bob")
    assert tokens.refresh_token
    oidc_provider.revoke(tokens.refresh_token)
    with pytest.raises(BrowserError, match="invalid_grant"):
        oidc_provider.refresh(tokens.refresh_token)


def test_wrong_password_and_unknown_user_cannot_sign_in(oidc_provider: OIDCProvider) -> None:
    with pytest.raises(BrowserError, match="refused"):
        oidc_provider.login("alice", password="not-her-password")
    with pytest.raises(BrowserError, match="refused"):
        oidc_provider.login("mallory")


def test_device_flow_completes_after_approval(oidc_provider: OIDCProvider) -> None:
    grant = oidc_provider.start_device_flow()
    assert grant["verification_uri"].startswith(oidc_provider.issuer)
    assert oidc_provider.poll_device_token(grant["device_code"]) == "authorization_pending"
    oidc_provider.approve_device_code(grant["user_code"], "alice")
    tokens = oidc_provider.poll_device_token(grant["device_code"])
    assert isinstance(tokens, TokenSet)
    claims = tokens.unverified_claims()
    assert claims["sub"] == "alice"
    assert claims["email"] == "alice@example.com"
    assert claims["groups"] == ["sre", "dev"]
    assert tokens.refresh_token


def test_device_code_cannot_be_approved_twice(oidc_provider: OIDCProvider) -> None:
    grant = oidc_provider.start_device_flow()
    oidc_provider.approve_device_code(grant["user_code"], "bob")
    with pytest.raises(BrowserError):
        oidc_provider.approve_device_code(grant["user_code"], "alice")


def test_prompt_login_forces_a_fresh_login_and_new_auth_time(
        oidc_provider: OIDCProvider) -> None:
    browser = oidc_provider.browser()
    try:
        first = oidc_provider.login("alice", browser=browser)
        assert browser.logins == 1
        silent = oidc_provider.login("alice", browser=browser)
        assert browser.logins == 1, "an IdP session exists: no login form without prompt=login"
        assert silent.unverified_claims()["auth_time"] == first.unverified_claims()["auth_time"]
        # auth_time has one-second resolution: let the clock pass the next whole second.
        deadline = first.unverified_claims()["auth_time"] + 1
        while time.time() < deadline:
            time.sleep(0.05)
        stepped = oidc_provider.login("alice", browser=browser, prompt="login")
        assert browser.logins == 2, "prompt=login must show the login form again"
        assert stepped.unverified_claims()["auth_time"] > first.unverified_claims()["auth_time"]
    finally:
        browser.close()


def test_loopback_redirect_port_may_vary(oidc_provider: OIDCProvider) -> None:
    from tests.fixtures.idp import pkce_pair

    _, challenge = pkce_pair()
    browser = oidc_provider.browser()
    try:
        url = oidc_provider.authorization_url(redirect_uri="http://127.0.0.1:51234/callback",
                                              state="s1", code_challenge=challenge)
        callback = browser.authorize(url, "bob")
    finally:
        browser.close()
    assert callback.startswith("http://127.0.0.1:51234/callback?code=")


def test_missing_node_is_a_failure_naming_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CI has Node and the provider: if either goes missing the OIDC tests must fail, loudly."""
    from tests.fixtures.idp import idp_unavailable_reason, start_oidc_provider

    monkeypatch.setenv("PATH", str(tmp_path))  # no node on this PATH
    reason = idp_unavailable_reason()
    assert reason is not None and "Node.js" in reason and "bootstrap.sh" in reason
    with pytest.raises(pytest.fail.Exception, match="install"):
        with start_oidc_provider(tmp_path / "idp"):
            pass  # pragma: no cover - never reached


def test_missing_provider_package_names_npm_install(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    from tests.fixtures import idp

    monkeypatch.setattr(idp, "IDP_DIR", tmp_path)
    reason = idp.idp_unavailable_reason()
    assert reason is not None and "npm install" in reason
