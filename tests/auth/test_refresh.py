"""Silent refresh: new tokens from the refresh token, rotation saved, one refresh at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kgate.auth.current import CurrentLogin
from kgate.auth.idtoken import unverified_claims
from kgate.auth.store import FileStore, StoredTokens
from tests.auth.conftest import login_in_process
from tests.fixtures.idp import BrowserError, OIDCProvider, start_oidc_provider

TTL = 10


def _next_second(id_token: str) -> None:
    """Wait until a new token would get a later ``iat`` (one-second resolution)."""
    iat = unverified_claims(id_token)["iat"]
    while time.time() < iat + 1:
        time.sleep(0.05)


@pytest.fixture(scope="module")
def short_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCProvider]:
    with start_oidc_provider(tmp_path_factory.mktemp("idp-refresh"),
                             id_token_ttl=TTL) as provider:
        yield provider


def test_refresh_rotates_and_saves(home: Path, oidc_provider: OIDCProvider) -> None:
    first = login_in_process(oidc_provider, home, "bob")
    _next_second(first.id_token)
    tokens, claims = CurrentLogin(home).fresh(min_valid=float("inf"))
    # (comparisons as booleans: a failing assert must not print a token)
    assert claims["sub"] == "bob" and claims["iat"] > unverified_claims(first.id_token)["iat"]
    assert bool(tokens.refresh_token) and not tokens.refresh_token == first.refresh_token
    stored = FileStore(home).load(f"{oidc_provider.issuer} kgate-cli")
    assert stored is not None and stored.refresh_token == tokens.refresh_token
    assert first.refresh_token
    with pytest.raises(BrowserError, match="invalid_grant"):
        oidc_provider.refresh(first.refresh_token)  # the old one is spent


def test_a_valid_token_is_not_refreshed(home: Path, oidc_provider: OIDCProvider) -> None:
    first = login_in_process(oidc_provider, home, "bob")
    _next_second(first.id_token)
    tokens, _ = CurrentLogin(home).fresh()
    unchanged = tokens.id_token == first.id_token
    assert unchanged


def test_refresh_token_swapped_for_another_users_is_refused(
        home: Path, oidc_provider: OIDCProvider) -> None:
    """A refresh that comes back naming someone else is not accepted as 'me'."""
    login_in_process(oidc_provider, home, "alice")
    bob = oidc_provider.login("bob")
    store = FileStore(home)
    account = f"{oidc_provider.issuer} kgate-cli"
    alice = store.load(account)
    assert alice is not None
    store.save(account, StoredTokens(alice.id_token, alice.access_token, bob.refresh_token,
                                     alice.access_expires_at))
    from kgate.auth.idtoken import TokenInvalid
    with pytest.raises(TokenInvalid, match="another user"):
        CurrentLogin(home).fresh(min_valid=float("inf"))


@pytest.mark.timeout(120)
def test_concurrent_refreshes_spend_the_refresh_token_once(
        home: Path, short_provider: OIDCProvider) -> None:
    """Two processes (here: two CurrentLogins on two threads) find the token due together."""
    first = login_in_process(short_provider, home, "alice")
    exp = unverified_claims(first.id_token)["exp"]
    while exp - time.time() > TTL - 3:  # the old token has < 7 s left; a new one has ~10 s
        time.sleep(0.1)
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        login = CurrentLogin(home)
        start.wait()
        try:
            results.append(login.fresh(min_valid=TTL - 2)[0].id_token)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, [str(e) for e in errors]
    same, new = results[0] == results[1], results[0] != first.id_token
    assert len(results) == 2 and same and new
    # And the login still works afterwards (no reuse was detected at the provider).
    assert CurrentLogin(home).fresh(min_valid=float("inf"))[1]["sub"] == "alice"
