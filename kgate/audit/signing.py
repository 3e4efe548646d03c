"""Signing session logs: one Ed25519 key per installation, behind a small ``KeyStore`` seam.

The private key belongs in the OS token store (the keyring), which is a later issue; until then
``FileKeyStore`` keeps it in ``$KGATE_HOME/keys/session-signing.pem`` (0600, directory 0700) and
says so in its docstring and in ``kgate sessions key export``. Anyone holding the public key can
check a log anywhere: ``kgate sessions verify --key PUB FILE``.

A signature covers ``DOMAIN`` + the canonical line of a checkpoint or end record without its
``sig`` field. That line carries ``prev`` (the hash of everything before it), the record count and
the session id, so one signature pins the whole prefix.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kgate.config import private_dir, write_private
from kgate.errors import ConfigError

DOMAIN = b"kgate-session-log-sig/v1\n"
KEY_FILE = "session-signing.pem"


class KeyStore(Protocol):
    """Where the installation's signing key lives."""

    def private_key(self) -> Ed25519PrivateKey:
        """The signing key, created on first use."""
        ...

    def public_key(self) -> Ed25519PublicKey | None:
        """The verifying key, or None if no key was ever created."""
        ...


class FileKeyStore:
    """The key as a 0600 PEM file under ``$KGATE_HOME/keys/`` (until the keyring store lands)."""

    def __init__(self, home: Path) -> None:
        self.path = home / "keys" / KEY_FILE
        self._key: Ed25519PrivateKey | None = None

    def private_key(self) -> Ed25519PrivateKey:
        if self._key is not None:
            return self._key
        if self.path.exists():
            self._key = self._load()
            return self._key
        private_dir(self.path.parent)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = self.path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
        write_private(tmp, pem)
        try:
            os.link(tmp, self.path)  # first writer wins if two proxies start at once
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        self._key = self._load()
        return self._key

    def public_key(self) -> Ed25519PublicKey | None:
        if not self.path.exists():
            return None
        return self.private_key().public_key()

    def _load(self) -> Ed25519PrivateKey:
        try:
            key = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        except (ValueError, OSError) as err:
            raise ConfigError(f"cannot read the session signing key {self.path}: {err}") from err
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{self.path} is not an Ed25519 key")
        return key


def key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name for a public key (shown in records and by ``key export``)."""
    return hashlib.sha256(public_raw(public)).hexdigest()[:16]


def public_raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public(path: Path) -> Ed25519PublicKey:
    """Read a public key written by ``kgate sessions key export``."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (ValueError, OSError) as err:
        raise ConfigError(f"cannot read the public key {path}: {err}") from err
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path} is not an Ed25519 public key")
    return key


def sign(key: Ed25519PrivateKey, unsigned_line: bytes) -> str:
    return base64.b64encode(key.sign(DOMAIN + unsigned_line)).decode()


def verify_signature(public: Ed25519PublicKey, unsigned_line: bytes, sig: str) -> bool:
    try:
        public.verify(base64.b64decode(sig, validate=True), DOMAIN + unsigned_line)
    except (InvalidSignature, ValueError):
        return False
    return True
