"""OIDCVerifier against the real test provider: what it accepts, whom it names, what it refuses."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import RSAKey

from kgate.errors import ConfigError
from kgate.sandbox.auth import UserInfo
from kgate.sandbox.oidc import OIDCVerifier, TokenRejected, user_from_claims
from tests.fixtures.idp import OTHER_CLIENT_ID, OIDCProvider, TokenSet, start_oidc_provider


def verify(verifier: OIDCVerifier, token: str) -> UserInfo | None:
    return asyncio.run(verifier.verify(token))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_verifier(provider: OIDCProvider, **kwargs: Any) -> OIDCVerifier:
    return OIDCVerifier(provider.issuer, provider.client_id, ca_pem=provider.ca_pem, **kwargs)


@pytest.fixture(scope="module")
def alice(oidc_provider: OIDCProvider) -> TokenSet:
    return oidc_provider.login("alice")


@pytest.fixture(scope="module")
def second_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCProvider]:
    """Another issuer with its own keys (and its own CA), for cross-issuer and rotation tests."""
    with start_oidc_provider(tmp_path_factory.mktemp("idp2")) as provider:
        yield provider


def test_fresh_token_maps_to_prefixed_sub_and_groups(oidc_provider: OIDCProvider,
                                                     alice: TokenSet) -> None:
    user = verify(make_verifier(oidc_provider), alice.id_token)
    assert user == UserInfo(username=f"{oidc_provider.issuer}#alice",
                            groups=("sre", "dev", "system:authenticated"))


def test_email_claim_is_unprefixed(oidc_provider: OIDCProvider, alice: TokenSet) -> None:
    user = verify(make_verifier(oidc_provider, username_claim="email"), alice.id_token)
    assert user is not None and user.username == "alice@example.com"


def test_unverified_email_is_refused_as_username(oidc_provider: OIDCProvider) -> None:
    eve = oidc_provider.login("eve")
    assert verify(make_verifier(oidc_provider, username_claim="email"), eve.id_token) is None
    user = verify(make_verifier(oidc_provider), eve.id_token)
    assert user is not None and user.username == f"{oidc_provider.issuer}#eve"
    assert user.groups == ("system:authenticated",)


def test_explicit_prefixes(oidc_provider: OIDCProvider, alice: TokenSet) -> None:
    none = verify(make_verifier(oidc_provider, username_prefix="-"), alice.id_token)
    assert none is not None and none.username == "alice"
    custom = verify(make_verifier(oidc_provider, username_prefix="oidc:",
                                  groups_prefix="oidc:"), alice.id_token)
    assert custom == UserInfo(username="oidc:alice",
                              groups=("oidc:sre", "oidc:dev", "system:authenticated"))
    no_groups = verify(make_verifier(oidc_provider, groups_claim=None), alice.id_token)
    assert no_groups is not None and no_groups.groups == ("system:authenticated",)


def test_token_for_another_audience_is_refused(oidc_provider: OIDCProvider) -> None:
    other = oidc_provider.login("alice", client_id=OTHER_CLIENT_ID)
    assert other.unverified_claims()["aud"] == OTHER_CLIENT_ID
    assert verify(make_verifier(oidc_provider), other.id_token) is None


def test_expired_token_is_refused(oidc_provider: OIDCProvider, alice: TokenSet) -> None:
    exp = alice.unverified_claims()["exp"]
    just_valid = make_verifier(oidc_provider, leeway=30, clock=lambda: exp + 29)
    assert verify(just_valid, alice.id_token) is not None
    expired = make_verifier(oidc_provider, leeway=30, clock=lambda: exp + 31)
    assert verify(expired, alice.id_token) is None


def test_token_issued_in_the_future_is_refused(oidc_provider: OIDCProvider,
                                               alice: TokenSet) -> None:
    iat = alice.unverified_claims()["iat"]
    assert verify(make_verifier(oidc_provider, leeway=5, clock=lambda: iat - 60),
                  alice.id_token) is None


def test_tampered_payload_is_refused(oidc_provider: OIDCProvider, alice: TokenSet) -> None:
    header, _, signature = alice.id_token.split(".")
    claims = alice.unverified_claims() | {"groups": ["system:masters"]}
    forged = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert verify(make_verifier(oidc_provider), forged) is None


def _sign(claims: dict[str, Any], key: RSAKey, kid: str) -> str:
    return jws.serialize_compact({"alg": "RS256", "kid": kid}, json.dumps(claims).encode(), key)


def test_token_signed_with_a_foreign_key_is_refused(oidc_provider: OIDCProvider,
                                                    alice: TokenSet) -> None:
    foreign = RSAKey.generate_key(2048)
    claims = alice.unverified_claims()
    verifier = make_verifier(oidc_provider)
    same_kid = _sign(claims, foreign, alice.unverified_header()["kid"])
    assert verify(verifier, same_kid) is None
    unknown_kid = _sign(claims, foreign, "not-a-key-of-this-issuer")
    assert verify(verifier, unknown_kid) is None
    assert verify(verifier, alice.id_token) is not None


def test_alg_none_and_hmac_tokens_are_refused(oidc_provider: OIDCProvider,
                                              alice: TokenSet) -> None:
    payload = b64(json.dumps(alice.unverified_claims()).encode())
    unsigned = f"{b64(json.dumps({'alg': 'none'}).encode())}.{payload}."
    verifier = make_verifier(oidc_provider)
    assert verify(verifier, unsigned) is None
    # HS256 keyed with something public (the classic algorithm-confusion forgery).
    head = b64(json.dumps({"alg": "HS256", "kid": alice.unverified_header()["kid"]}).encode())
    mac = hmac.new(oidc_provider.ca_pem, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    assert verify(verifier, f"{head}.{payload}.{b64(mac)}") is None
    assert verify(verifier, "not-a-jwt") is None


def test_token_from_another_issuer_is_refused(oidc_provider: OIDCProvider,
                                              second_provider: OIDCProvider) -> None:
    foreign = second_provider.login("alice")
    assert verify(make_verifier(oidc_provider), foreign.id_token) is None
    assert verify(make_verifier(second_provider), foreign.id_token) is not None


def test_ec_signed_tokens_are_accepted(tmp_path: Path) -> None:
    with start_oidc_provider(tmp_path / "idp-es256", signing_alg="ES256") as provider:
        tokens = provider.login("bob")
        assert tokens.unverified_header()["alg"] == "ES256"
        user = verify(make_verifier(provider, username_claim="email"), tokens.id_token)
    assert user == UserInfo("bob@example.com", ("dev", "system:authenticated"))


def test_issuer_must_match_discovery_exactly(oidc_provider: OIDCProvider,
                                             alice: TokenSet) -> None:
    slash = OIDCVerifier(oidc_provider.issuer + "/", oidc_provider.client_id,
                         ca_pem=oidc_provider.ca_pem)
    assert verify(slash, alice.id_token) is None


def test_untrusted_tls_fails_closed(oidc_provider: OIDCProvider, second_provider: OIDCProvider,
                                    alice: TokenSet) -> None:
    wrong_ca = OIDCVerifier(oidc_provider.issuer, oidc_provider.client_id,
                            ca_pem=second_provider.ca_pem)
    assert verify(wrong_ca, alice.id_token) is None
    system_cas = OIDCVerifier(oidc_provider.issuer, oidc_provider.client_id)
    assert verify(system_cas, alice.id_token) is None


def test_rotated_signing_key_is_fetched_once_seen(second_provider: OIDCProvider) -> None:
    verifier = make_verifier(second_provider)
    before = second_provider.login("bob")
    assert verify(verifier, before.id_token) is not None
    new_kid = second_provider.rotate_signing_key()
    after = second_provider.login("bob")
    assert after.unverified_header()["kid"] == new_kid != before.unverified_header()["kid"]
    assert verify(verifier, after.id_token) is not None
    assert verify(verifier, before.id_token) is not None


def test_rejections_never_log_the_token(oidc_provider: OIDCProvider, alice: TokenSet,
                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    header, payload, signature = alice.id_token.split(".")
    wrong_client = OIDCVerifier(oidc_provider.issuer, "someone-else",
                                ca_pem=oidc_provider.ca_pem)
    assert verify(wrong_client, alice.id_token) is None
    assert verify(make_verifier(oidc_provider), f"{header}.{payload}.AAAA") is None
    assert caplog.records, "a rejection is logged"
    for text in (alice.id_token, payload, signature):
        assert text not in caplog.text


def test_configuration_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="https"):
        OIDCVerifier("http://127.0.0.1:1", "kgate-cli")
    with pytest.raises(ConfigError, match="HS256"):
        OIDCVerifier("https://127.0.0.1:1", "kgate-cli", signing_algs=["HS256"])
    with pytest.raises(ConfigError, match="client id"):
        OIDCVerifier("https://127.0.0.1:1", "")


@pytest.mark.parametrize(("claims", "reason"), [
    ({"aud": ["a", "kgate-cli"], "sub": "x", "groups": "solo"}, None),
    ({"aud": "other"}, "audience"),
    ({"iss": "https://evil"}, "issuer"),
    ({"exp": None}, "exp is missing"),
    ({"nbf": 2_000}, "nbf"),
    ({"sub": ""}, "'sub'"),
    ({"groups": [1, 2]}, "groups"),
])
def test_claim_rules(claims: dict[str, Any], reason: str | None) -> None:
    base = {"iss": "https://idp", "aud": "kgate-cli", "sub": "x", "exp": 1_100, "iat": 1_000,
            "groups": ["g"]}
    base.update(claims)
    base = {k: v for k, v in base.items() if v is not None}
    kwargs: dict[str, Any] = {"issuer": "https://idp", "client_id": "kgate-cli", "now": 1_000,
                              "leeway": 10}
    if reason is None:
        user = user_from_claims(base, **kwargs)
        assert user == UserInfo("https://idp#x", ("solo", "system:authenticated"))
    else:
        with pytest.raises(TokenRejected, match=reason):
            user_from_claims(base, **kwargs)
