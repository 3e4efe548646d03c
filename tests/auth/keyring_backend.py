"""A keyring backend for tests, registered through keyring's own mechanisms.

In-process: ``keyring.set_keyring(FileKeyring(path))``. In a ``kgate`` subprocess:
``PYTHON_KEYRING_BACKEND=tests.auth.keyring_backend.FileKeyring`` with ``KGATE_TEST_KEYRING``
naming the JSON file, so the test can look inside the "OS keyring" afterwards.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    """Secrets in one JSON file (tests only: the real keyring encrypts them)."""

    @properties.classproperty
    def priority(cls) -> float:  # noqa: N805 - keyring's classproperty
        # keyring instantiates every backend class it knows when it auto-detects one: never let
        # this test backend be picked by accident, only when a test names its file.
        if "KGATE_TEST_KEYRING" not in os.environ:
            raise RuntimeError("tests.auth.keyring_backend.FileKeyring needs KGATE_TEST_KEYRING")
        return 1

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self.path = Path(path or os.environ.get("KGATE_TEST_KEYRING", "/nonexistent/keyring"))

    def _all(self) -> dict[str, str]:
        try:
            data: dict[str, str] = json.loads(self.path.read_text())
            return data
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._all().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._all()
        entries[f"{service}\0{username}"] = password
        self.path.write_text(json.dumps(entries))

    def delete_password(self, service: str, username: str) -> None:
        entries = self._all()
        if entries.pop(f"{service}\0{username}", None) is None:
            raise PasswordDeleteError("not found")
        self.path.write_text(json.dumps(entries))
