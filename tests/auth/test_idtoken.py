"""ID tokens from the real provider: what kgate accepts, what it refuses, and key rotation."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import RSAKey

from kgate.auth.client import OidcClient
from kgate.auth.idtoken import TokenInvalid, check_claims
from kgate.errors import ExitCode
from tests.auth.conftest import login_in_process, settings_for
from tests.fixtures.idp import OTHER_CLIENT_ID, OIDCProvider, TokenSet, start_oidc_provider


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def alice(oidc_provider: OIDCProvider) -> TokenSet:
    return oidc_provider.login("alice")


@pytest.fixture(scope="module")
def client(oidc_provider: OIDCProvider) -> OidcClient:
    return OidcClient(settings_for(oidc_provider))


@pytest.fixture(scope="module")
def rotating(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCProvider]:
    with start_oidc_provider(tmp_path_factory.mktemp("idp-rotate")) as provider:
        yield provider


def test_a_fresh_token_validates(client: OidcClient, alice: TokenSet) -> None:
    claims = client.validate(alice.id_token, nonce=alice.unverified_claims()["nonce"])
    assert claims["sub"] == "alice" and claims["groups"] == ["sre", "dev"]


def test_tampered_token_is_refused(client: OidcClient, alice: TokenSet) -> None:
    header, _, signature = alice.id_token.split(".")
    forged = alice.unverified_claims() | {"groups": ["sre", "admins"]}
    token = f"{header}.{b64(json.dumps(forged).encode())}.{signature}"
    with pytest.raises(TokenInvalid, match="signature") as caught:
        client.validate(token, nonce=None)
    assert caught.value.exit_code == ExitCode.AUTH
    assert token not in str(caught.value) and signature not in str(caught.value)


def test_foreign_key_and_unsigned_tokens_are_refused(client: OidcClient,
                                                     alice: TokenSet) -> None:
    claims = json.dumps(alice.unverified_claims()).encode()
    foreign = RSAKey.generate_key(2048)
    kid = alice.unverified_header()["kid"]
    with pytest.raises(TokenInvalid, match="signature"):
        client.validate(jws.serialize_compact({"alg": "RS256", "kid": kid}, claims, foreign),
                        nonce=None)
    with pytest.raises(TokenInvalid, match="no signing key"):
        client.validate(jws.serialize_compact({"alg": "RS256", "kid": "made-up"}, claims,
                                              foreign), nonce=None)
    none_header = b64(json.dumps({"alg": "none"}).encode())
    unsigned = f"{none_header}.{b64(claims)}."
    with pytest.raises(TokenInvalid, match="algorithm"):
        client.validate(unsigned, nonce=None)
    with pytest.raises(TokenInvalid, match="not a signed JWT"):
        client.validate("garbage", nonce=None)


def test_expired_token_is_refused(oidc_provider: OIDCProvider, alice: TokenSet) -> None:
    exp = alice.unverified_claims()["exp"]
    late = OidcClient(settings_for(oidc_provider), clock=lambda: exp + 61, leeway=60)
    with pytest.raises(TokenInvalid, match="expired"):
        late.validate(alice.id_token, nonce=None)
    just = OidcClient(settings_for(oidc_provider), clock=lambda: exp + 59, leeway=60)
    assert just.validate(alice.id_token, nonce=None)["sub"] == "alice"


def test_wrong_audience_is_refused(client: OidcClient, oidc_provider: OIDCProvider) -> None:
    other = oidc_provider.login("alice", client_id=OTHER_CLIENT_ID)
    with pytest.raises(TokenInvalid, match="wrong audience"):
        client.validate(other.id_token, nonce=None)


def test_wrong_nonce_is_refused(client: OidcClient, alice: TokenSet) -> None:
    with pytest.raises(TokenInvalid, match="nonce"):
        client.validate(alice.id_token, nonce="another-login's-nonce")


def test_token_of_another_issuer_is_refused(oidc_provider: OIDCProvider,
                                            rotating: OIDCProvider) -> None:
    foreign = rotating.login("alice")
    client = OidcClient(settings_for(oidc_provider))
    with pytest.raises(TokenInvalid):
        client.validate(foreign.id_token, nonce=None)


def test_key_rotation_is_followed(rotating: OIDCProvider, tmp_path: Path) -> None:
    client = OidcClient(settings_for(rotating))
    before = rotating.login("bob")
    assert client.validate(before.id_token, nonce=None)["sub"] == "bob"
    time.sleep(5.1)  # the JWKS refetch is rate-limited to once per 5 s
    new_kid = rotating.rotate_signing_key()
    after = rotating.login("bob")
    assert after.unverified_header()["kid"] == new_kid != before.unverified_header()["kid"]
    assert client.validate(after.id_token, nonce=None)["sub"] == "bob"  # refetched JWKS
    assert client.validate(before.id_token, nonce=None)["sub"] == "bob"  # old key still listed


def test_login_after_rotation_uses_the_new_key(rotating: OIDCProvider, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("KGATE_TOKEN_STORE", "file")
    rotating.rotate_signing_key()
    tokens = login_in_process(rotating, home, "alice")
    assert tokens.refresh_token


def test_explicit_ca_file_wins_over_requests_ca_bundle(
        oidc_provider: OIDCProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/nonexistent/bundle.pem")
    assert OidcClient(settings_for(oidc_provider)).metadata.issuer == oidc_provider.issuer


BASE: dict[str, Any] = {"iss": "https://idp", "aud": "kgate-cli", "sub": "alice",
                        "exp": 2_000, "iat": 1_000, "nonce": "n1", "auth_time": 900}


@pytest.mark.parametrize(("change", "kwargs", "reason"), [
    ({}, {}, None),
    ({"aud": ["kgate-cli", "x"], "azp": "kgate-cli"}, {}, None),
    ({"aud": ["kgate-cli", "x"], "azp": "x"}, {}, "azp"),
    ({"iss": "https://evil"}, {}, "another issuer"),
    ({"aud": "x"}, {}, "wrong audience"),
    ({"exp": None}, {}, "lacks exp"),
    ({"iat": 1_200}, {"now": 1_000, "leeway": 60}, "clock"),
    ({}, {"now": 2_100, "leeway": 60}, "expired"),
    ({}, {"nonce": "n2"}, "nonce"),
    ({}, {"max_age": 30}, "did not re-authenticate"),
    ({}, {"max_age": 100}, None),
    ({"auth_time": None}, {"max_age": 100}, "auth_time"),
    ({}, {"expect_sub": "bob"}, "another user"),
])
def test_claim_rules(change: dict[str, Any], kwargs: dict[str, Any],
                     reason: str | None) -> None:
    claims = {k: v for k, v in (BASE | change).items() if v is not None}
    args: dict[str, Any] = {"issuer": "https://idp", "client_id": "kgate-cli", "now": 1_000,
                            "leeway": 5, "nonce": "n1"} | kwargs
    if reason is None:
        check_claims(claims, **args)
    else:
        with pytest.raises(TokenInvalid, match=reason):
            check_claims(claims, **args)
