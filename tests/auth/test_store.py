"""The token store: keyring when usable (through keyring's own backend registry), an explicit
0600 file otherwise, ``KGATE_TOKEN_STORE`` to force either; and logins commit all or nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from kgate.auth.flows import commit_login
from kgate.auth.settings import OidcSettings, load_oidc_settings
from kgate.auth.store import FileStore, KeyringStore, StoredTokens, open_store
from kgate.errors import ConfigError, KgateError
from kgate.settings_file import read_config, update_table
from tests.auth.conftest import login_in_process
from tests.auth.keyring_backend import FileKeyring
from tests.fixtures.idp import OIDCProvider

TOKENS = StoredTokens("id.tok.en", "access", "refresh-secret", 123.0)
SETTINGS = OidcSettings("https://idp.example", "kgate-cli")


def test_keyring_is_used_when_a_backend_is_registered(home: Path, file_keyring: FileKeyring,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KGATE_TOKEN_STORE")
    store = open_store(home)
    assert isinstance(store, KeyringStore)
    assert "tests.auth.keyring_backend.FileKeyring" in store.describe()
    store.save(SETTINGS.account, TOKENS)
    assert json.loads(file_keyring.get_password("kgate-oidc", SETTINGS.account) or "{}"
                      )["refresh_token"] == "refresh-secret"
    loaded = store.load(SETTINGS.account)
    assert loaded is not None and loaded.refresh_token == "refresh-secret"
    store.delete(SETTINGS.account)
    assert store.load(SETTINGS.account) is None
    store.delete(SETTINGS.account)  # deleting twice is fine (already logged out)
    assert not (home / "oidc-tokens.json").exists()


def test_file_fallback_without_a_usable_keyring(home: Path, no_keyring: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KGATE_TOKEN_STORE")
    store = open_store(home)
    assert isinstance(store, FileStore)
    assert "no usable OS keyring" in store.describe()
    store.save(SETTINGS.account, TOKENS)
    path = home / "oidc-tokens.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "refresh-secret" not in repr(store.load(SETTINGS.account))  # never in a repr
    store.delete(SETTINGS.account)
    assert not path.exists()


def test_env_forces_the_store(home: Path, file_keyring: FileKeyring, no_keyring: None,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGATE_TOKEN_STORE", "file")
    assert isinstance(open_store(home), FileStore)
    monkeypatch.setenv("KGATE_TOKEN_STORE", "keyring")
    with pytest.raises(ConfigError, match="no usable keyring"):
        open_store(home)  # no_keyring is active: forced keyring never falls back silently
    monkeypatch.setenv("KGATE_TOKEN_STORE", "vault")
    with pytest.raises(ConfigError, match="not understood"):
        open_store(home)


def test_forced_keyring_with_a_backend(home: Path, file_keyring: FileKeyring,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGATE_TOKEN_STORE", "keyring")
    assert isinstance(open_store(home), KeyringStore)


def test_login_into_the_keyring_in_process(home: Path, file_keyring: FileKeyring,
                                           oidc_provider: OIDCProvider) -> None:
    tokens = login_in_process(oidc_provider, home, "alice", commit=False)
    store = KeyringStore(file_keyring)
    settings = OidcSettings(oidc_provider.issuer, "kgate-cli", ca_file=oidc_provider.ca_file)
    commit_login(home, settings, store, tokens)
    loaded = store.load(settings.account)
    assert loaded is not None and loaded.refresh_token == tokens.refresh_token
    assert load_oidc_settings(home) == settings


class _BrokenConfigHome(Exception):
    pass


def test_failed_config_write_leaves_no_tokens(home: Path) -> None:
    """If config.toml cannot be written, the tokens just stored are taken back out."""
    store = FileStore(home)
    (home / "config.toml").mkdir()  # a directory where the file should be: writes fail
    with pytest.raises(KgateError):
        commit_login(home, SETTINGS, store, TOKENS)
    assert store.load(SETTINGS.account) is None
    assert not (home / "oidc-tokens.json").exists()


def test_failed_config_write_restores_the_previous_login(home: Path) -> None:
    store = FileStore(home)
    old = StoredTokens("old.id.tok", "a", "old-refresh", 1.0)
    store.save(SETTINGS.account, old)
    (home / "config.toml").mkdir()
    with pytest.raises(KgateError):
        commit_login(home, SETTINGS, store, TOKENS)
    kept = store.load(SETTINGS.account)
    assert kept is not None and kept.refresh_token == "old-refresh"


def test_config_keeps_other_tables(home: Path) -> None:
    update_table(home, "cluster", {"kubeconfig": "/k/config", "context": "prod"})
    (home / "config.toml").write_text('policy = "/p.yaml"\n'
                                      + (home / "config.toml").read_text())
    commit_login(home, SETTINGS, FileStore(home), TOKENS)
    doc = read_config(home)
    assert doc["policy"] == "/p.yaml"
    assert doc["cluster"] == {"kubeconfig": "/k/config", "context": "prod"}
    assert doc["oidc"]["issuer"] == "https://idp.example"
    assert stat.S_IMODE((home / "config.toml").stat().st_mode) == 0o600


@pytest.mark.parametrize(("text", "match"), [
    ('[oidc]\nissuer = "http://idp"\nclient_id = "x"\n', "https"),
    ('[oidc]\nissuer = "https://idp"\n', "client_id"),
    ('[oidc]\nissuer = "https://idp"\nclient_id = "x"\nscopes = ["email"]\n', "openid"),
    ('[oidc]\nissuer = "https://idp"\nclient_id = "x"\nsecret = "s"\n', "unknown keys"),
    ("[oidc\n", "config.toml"),
])
def test_bad_config_is_named(home: Path, text: str, match: str) -> None:
    (home / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_oidc_settings(home)
