"""The ``[oidc]`` table of ``config.toml``: which provider and client ``kgate login`` uses.

``OidcSettings`` validates when built (https issuer, non-empty client id, readable CA file) so a
bad value is refused with the file and key named, before any network call. The client secret
(rare for a CLI, but some providers insist) is not kept here: it lives in the token store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kgate.errors import ConfigError
from kgate.settings_file import config_path, read_config, update_table

DEFAULT_SCOPES: tuple[str, ...] = ("openid", "email", "profile", "groups", "offline_access")


@dataclass(frozen=True)
class OidcSettings:
    """An issuer, a client id, the scopes to ask for, and an optional CA bundle for the issuer."""

    issuer: str
    client_id: str
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.issuer)
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigError(f"OIDC issuer must be an https URL: {self.issuer!r}",
                              hint="pass --issuer https://your-idp.example.com")
        if not self.client_id:
            raise ConfigError("OIDC client id is empty", hint="pass --client-id")
        if "openid" not in self.scopes:
            raise ConfigError("OIDC scopes must include 'openid'",
                              hint=f"for example --scope {' --scope '.join(DEFAULT_SCOPES)}")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ConfigError(f"OIDC CA file {self.ca_file} does not exist")

    @property
    def account(self) -> str:
        """The token store's key for this issuer and client."""
        return f"{self.issuer} {self.client_id}"

    def as_table(self) -> dict[str, Any]:
        table: dict[str, Any] = {"issuer": self.issuer, "client_id": self.client_id,
                                 "scopes": list(self.scopes)}
        if self.ca_file is not None:
            table["ca_file"] = str(self.ca_file)
        return table


def load_oidc_settings(home: Path) -> OidcSettings | None:
    """The configured provider, or ``None`` when kgate runs in local mode (no ``[oidc]``)."""
    table = read_config(home).get("oidc")
    if table is None:
        return None
    where = f"{config_path(home)} [oidc]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} is not a table")
    unknown = set(table) - {"issuer", "client_id", "scopes", "ca_file"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    issuer, client_id = table.get("issuer"), table.get("client_id")
    scopes = table.get("scopes", list(DEFAULT_SCOPES))
    ca_file = table.get("ca_file")
    if not isinstance(issuer, str) or not isinstance(client_id, str):
        raise ConfigError(f"{where}: issuer and client_id must be strings",
                          hint="run kgate login --issuer URL --client-id ID")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ConfigError(f"{where}: scopes must be a list of strings")
    if ca_file is not None and not isinstance(ca_file, str):
        raise ConfigError(f"{where}: ca_file must be a string")
    try:
        return OidcSettings(issuer, client_id, tuple(scopes),
                            Path(ca_file) if ca_file else None)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err.message}", hint=err.hint) from err


def save_oidc_settings(home: Path, settings: OidcSettings) -> None:
    update_table(home, "oidc", settings.as_table())


def remove_oidc_settings(home: Path) -> None:
    update_table(home, "oidc", None)
