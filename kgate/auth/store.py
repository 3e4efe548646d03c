"""Where the OIDC tokens live: the OS keyring, or an explicit 0600 file under ``$KGATE_HOME``.

The refresh token is the long-lived secret, so it goes to the keyring (``keyring``: Secret
Service, macOS Keychain, Windows Credential Locker) with the ID and access tokens beside it as one
JSON entry. Headless Linux often has no usable backend (``keyring`` then offers only its ``fail``
or ``null`` backend); kgate then uses ``$KGATE_HOME/oidc-tokens.json`` created 0600, and says so.
``KGATE_TOKEN_STORE=keyring|file`` forces the choice (``keyring`` with no usable backend is an
error, not a silent fallback). Backends registered through keyring's own mechanisms
(``keyring.set_keyring``, ``PYTHON_KEYRING_BACKEND``, keyringrc) are honoured.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kgate.config import write_private
from kgate.errors import AuthError, ConfigError

SERVICE = "kgate-oidc"
FILE_NAME = "oidc-tokens.json"
ENV = "KGATE_TOKEN_STORE"


@dataclass(frozen=True, repr=False)
class StoredTokens:
    """One login's tokens (never printed: ``repr`` shows no token)."""

    id_token: str
    access_token: str
    refresh_token: str | None
    access_expires_at: float
    client_secret: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"StoredTokens(access_expires_at={self.access_expires_at})"

    def to_json(self) -> str:
        return json.dumps({"id_token": self.id_token, "access_token": self.access_token,
                           "refresh_token": self.refresh_token,
                           "access_expires_at": self.access_expires_at,
                           "client_secret": self.client_secret, **dict(self.extra)})

    @classmethod
    def from_json(cls, text: str) -> StoredTokens:
        doc = json.loads(text)
        if not isinstance(doc, dict) or not isinstance(doc.get("id_token"), str):
            raise ValueError("not a kgate token entry")
        known = {"id_token", "access_token", "refresh_token", "access_expires_at",
                 "client_secret"}
        return cls(id_token=doc["id_token"], access_token=str(doc.get("access_token") or ""),
                   refresh_token=doc.get("refresh_token"),
                   access_expires_at=float(doc.get("access_expires_at") or 0),
                   client_secret=doc.get("client_secret"),
                   extra={k: v for k, v in doc.items() if k not in known})


class TokenStore(Protocol):
    """Load, save and delete the tokens of one account (issuer + client id)."""

    def describe(self) -> str: ...
    def load(self, account: str) -> StoredTokens | None: ...
    def save(self, account: str, tokens: StoredTokens) -> None: ...
    def delete(self, account: str) -> None: ...


class KeyringStore:
    """Tokens in the OS keyring, one entry per account."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    def describe(self) -> str:
        cls = type(self._backend)
        return f"keyring ({cls.__module__}.{cls.__qualname__})"

    def load(self, account: str) -> StoredTokens | None:
        import keyring.errors

        try:
            text = self._backend.get_password(SERVICE, account)
        except keyring.errors.KeyringError as err:
            raise AuthError(f"the keyring could not be read: {type(err).__name__}",
                            hint="unlock the keyring, or set KGATE_TOKEN_STORE=file") from err
        return _parse(text, self.describe())

    def save(self, account: str, tokens: StoredTokens) -> None:
        import keyring.errors

        try:
            self._backend.set_password(SERVICE, account, tokens.to_json())
        except keyring.errors.KeyringError as err:
            raise AuthError(f"the keyring refused the tokens: {type(err).__name__}",
                            hint="unlock the keyring, or set KGATE_TOKEN_STORE=file") from err

    def delete(self, account: str) -> None:
        import keyring.errors

        try:
            self._backend.delete_password(SERVICE, account)
        except keyring.errors.PasswordDeleteError:
            pass  # nothing stored: already logged out
        except keyring.errors.KeyringError as err:
            raise AuthError(f"the keyring refused to delete the tokens: "
                            f"{type(err).__name__}") from err


class FileStore:
    """Tokens in ``$KGATE_HOME/oidc-tokens.json`` (0600), one entry per account."""

    def __init__(self, home: Path, reason: str = "") -> None:
        self.path = home / FILE_NAME
        self._reason = reason

    def describe(self) -> str:
        return f"file {self.path}" + (f" ({self._reason})" if self._reason else "")

    def _read_all(self) -> dict[str, str]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            raise AuthError(f"cannot read the token file {self.path}",
                            hint="run kgate logout, then kgate login") from err
        if not isinstance(doc, dict):
            raise AuthError(f"the token file {self.path} is malformed",
                            hint="run kgate logout, then kgate login")
        return {k: v for k, v in doc.items() if isinstance(v, str)}

    def _write_all(self, entries: Mapping[str, str]) -> None:
        if not entries:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            write_private(tmp, json.dumps(dict(entries)).encode())
            os.replace(tmp, self.path)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise AuthError(f"cannot write the token file {self.path}: {err.strerror}") from err

    def load(self, account: str) -> StoredTokens | None:
        return _parse(self._read_all().get(account), self.describe())

    def save(self, account: str, tokens: StoredTokens) -> None:
        entries = self._read_all()
        entries[account] = tokens.to_json()
        self._write_all(entries)

    def delete(self, account: str) -> None:
        entries = self._read_all()
        if entries.pop(account, None) is not None:
            self._write_all(entries)


def _parse(text: str | None, where: str) -> StoredTokens | None:
    if text is None:
        return None
    try:
        return StoredTokens.from_json(text)
    except (ValueError, TypeError) as err:
        raise AuthError(f"the stored OIDC tokens in {where} are malformed",
                        hint="run kgate logout, then kgate login") from err


def usable_keyring() -> Any | None:
    """keyring's chosen backend if it can store secrets, else ``None``."""
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return None
    try:
        from keyring.backends import null
        if isinstance(backend, null.Keyring):
            return None
    except ImportError:  # pragma: no cover - older keyring
        pass
    chained = getattr(backend, "backends", None)
    if chained is not None and not chained:
        return None  # a ChainerBackend with nothing behind it
    return backend


def open_store(home: Path) -> TokenStore:
    """The store to use: ``KGATE_TOKEN_STORE`` if set, else the keyring when usable, else file."""
    choice = os.environ.get(ENV, "").strip().lower()
    if choice not in ("", "keyring", "file"):
        raise ConfigError(f"{ENV}={choice!r} is not understood", hint="use keyring or file")
    if choice == "file":
        return FileStore(home, f"{ENV}=file")
    backend = usable_keyring()
    if backend is not None:
        return KeyringStore(backend)
    if choice == "keyring":
        raise ConfigError(f"{ENV}=keyring but no usable keyring backend is available",
                          hint="install/unlock a Secret Service (e.g. gnome-keyring), or set "
                               f"{ENV}=file")
    return FileStore(home, "no usable OS keyring")
