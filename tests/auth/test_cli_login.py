"""``kgate login / whoami / logout`` as a user runs them, against the real provider."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from tests.auth.conftest import Cli, cli_browser_login, login_args, read_until
from tests.auth.keyring_backend import FileKeyring
from tests.fixtures.idp import OIDCProvider


def _wait_past_exp(id_token: str) -> None:
    from kgate.auth.idtoken import unverified_claims

    exp = unverified_claims(id_token)["exp"]
    while time.time() <= exp:
        time.sleep(0.1)


def _whoami(cli: Cli) -> dict[str, object]:
    out = cli.run("whoami", "--json")
    assert out.returncode == 0, out.stderr
    doc: dict[str, object] = json.loads(out.stdout)
    return doc


@pytest.mark.timeout(120)
def test_browser_login_with_file_fallback(cli: Cli, oidc_provider: OIDCProvider) -> None:
    proc, stderr = cli_browser_login(cli, oidc_provider, "alice")
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    token_file = cli.home / "oidc-tokens.json"
    assert "token store: file" in stderr and "no usable OS keyring" in stderr
    assert "logged in as alice@example.com" in stderr
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    config = (cli.home / "config.toml").read_text()
    assert f'issuer = "{oidc_provider.issuer}"' in config
    assert 'client_id = "kgate-cli"' in config
    assert str(oidc_provider.ca_file) in config
    who = _whoami(cli)
    assert who["subject"] == "alice" and who["email"] == "alice@example.com"
    assert who["groups"] == ["sre", "dev"] and who["issuer"] == oidc_provider.issuer
    assert str(who["token_store"]).startswith("file ")
    # No token ever reaches the terminal.
    tokens = json.loads(next(iter(json.loads(token_file.read_text()).values())))
    for secret in (tokens["id_token"], tokens["refresh_token"], tokens["access_token"]):
        assert secret not in stderr


@pytest.mark.timeout(120)
def test_second_login_needs_no_options(cli: Cli, oidc_provider: OIDCProvider) -> None:
    assert cli_browser_login(cli, oidc_provider, "bob")[0].returncode == 0
    proc = cli.start("login")  # no DISPLAY here: kgate prints the URL, starts no text browser
    seen: list[str] = []
    url = read_until(proc, lambda line: line.startswith("https://"), seen)
    assert url.startswith(oidc_provider.discovery()["authorization_endpoint"])
    assert "code_challenge_method=S256" in url and "nonce=" in url
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url
    oidc_provider.browser().authorize(url, "bob", deliver=True)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert _whoami(cli)["subject"] == "bob"


@pytest.mark.timeout(120)
def test_device_login_into_the_keyring(cli: Cli, oidc_provider: OIDCProvider,
                                       tmp_path: Path) -> None:
    store = tmp_path / "os-keyring.json"
    cli.env.update(PYTHON_KEYRING_BACKEND="tests.auth.keyring_backend.FileKeyring",
                   KGATE_TEST_KEYRING=str(store))
    proc = cli.start(*login_args(oidc_provider, "--device"))
    seen: list[str] = []
    try:
        code_line = read_until(proc, lambda line: line.startswith("user code: "), seen)
        text = "".join(seen)
        assert "kgate login --device" in text and "/device" in text  # the panel
        oidc_provider.approve_device_code(code_line.removeprefix("user code: "), "alice")
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    stderr = "".join(seen) + rest
    assert proc.returncode == 0, stderr
    assert "token store: keyring (tests.auth.keyring_backend.FileKeyring)" in stderr
    assert not (cli.home / "oidc-tokens.json").exists()
    entry = FileKeyring(store).get_password("kgate-oidc",
                                           f"{oidc_provider.issuer} kgate-cli")
    assert entry is not None and json.loads(entry)["refresh_token"]
    who = _whoami(cli)
    assert who["email"] == "alice@example.com"
    assert str(who["token_store"]).startswith("keyring (")


@pytest.mark.timeout(120)
def test_forced_keyring_without_backend_is_a_config_error(cli: Cli,
                                                          oidc_provider: OIDCProvider) -> None:
    cli.env["KGATE_TOKEN_STORE"] = "keyring"
    out = cli.run(*login_args(oidc_provider, "--no-browser"))
    assert out.returncode == 3
    assert "no usable keyring backend" in out.stderr and "hint:" in out.stderr
    assert not (cli.home / "config.toml").exists()


@pytest.mark.timeout(120)
def test_logout_revokes_at_the_provider(cli: Cli, oidc_provider: OIDCProvider) -> None:
    assert cli_browser_login(cli, oidc_provider, "bob")[0].returncode == 0
    token_file = cli.home / "oidc-tokens.json"
    entry = json.loads(next(iter(json.loads(token_file.read_text()).values())))
    out = cli.run("logout")
    assert out.returncode == 0, out.stderr
    assert "revoked at the provider" in out.stderr
    assert not token_file.exists()
    from tests.fixtures.idp import BrowserError
    with pytest.raises(BrowserError, match="invalid_grant"):
        oidc_provider.refresh(entry["refresh_token"])
    after = cli.run("whoami")
    assert after.returncode == 4 and "run kgate login" in after.stderr
    assert "[oidc]" in (cli.home / "config.toml").read_text()  # settings stay


@pytest.mark.timeout(120)
def test_revoked_refresh_token_means_login_again(cli: Cli, tmp_path: Path) -> None:
    from tests.fixtures.idp import start_oidc_provider

    with start_oidc_provider(tmp_path / "idp-short", id_token_ttl=2) as provider:
        assert cli_browser_login(cli, provider, "bob")[0].returncode == 0
        token_file = cli.home / "oidc-tokens.json"
        entry = json.loads(next(iter(json.loads(token_file.read_text()).values())))
        _wait_past_exp(entry["id_token"])
        refreshed = cli.run("whoami", "--json")  # the ID token expired: silent refresh
        assert refreshed.returncode == 0, refreshed.stderr
        again = json.loads(next(iter(json.loads(token_file.read_text()).values())))
        assert again["id_token"] != entry["id_token"]
        provider.revoke(again["refresh_token"])
        _wait_past_exp(again["id_token"])
        out = cli.run("whoami")
    assert out.returncode == 4
    assert "refresh token revoked or expired" in out.stderr and "run kgate login" in out.stderr
    assert "Traceback" not in out.stderr
