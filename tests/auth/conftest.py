"""Helpers for the kgate login tests: a kgate home, the CLI as a subprocess, in-process logins.

Every test drives the real ``oidc-provider`` (tests/fixtures/idp.py) over loopback HTTPS; the
"person at the browser" is the fixture's scripted ``Browser``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from kgate.auth.client import OidcClient
from kgate.auth.flows import browser_login, commit_login
from kgate.auth.settings import OidcSettings
from kgate.auth.store import FileStore, StoredTokens
from tests.auth.keyring_backend import FileKeyring
from tests.fixtures.idp import Browser, OIDCProvider

REPO = Path(__file__).resolve().parents[2]


def settings_for(provider: OIDCProvider, client_id: str | None = None) -> OidcSettings:
    return OidcSettings(provider.issuer, client_id or provider.client_id,
                        ca_file=provider.ca_file)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh $KGATE_HOME, and the file token store forced for in-process code."""
    path = tmp_path / "kgate-home"
    path.mkdir(mode=0o700)
    monkeypatch.setenv("KGATE_HOME", str(path))
    monkeypatch.setenv("KGATE_TOKEN_STORE", "file")
    return path


@pytest.fixture
def file_keyring(tmp_path: Path) -> Iterator[FileKeyring]:
    """The in-process keyring replaced by a test backend (restored afterwards)."""
    previous = keyring.get_keyring()
    backend = FileKeyring(tmp_path / "keyring.json")
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def login_in_process(provider: OIDCProvider, home: Path, username: str, *,
                     browser: Browser | None = None, prompt: str | None = None,
                     max_age: int | None = None, clock: Callable[[], float] = time.time,
                     commit: bool = True) -> StoredTokens:
    """``browser_login`` with the scripted browser delivering the callback."""
    settings = settings_for(provider)
    nav = browser or provider.browser()
    try:
        client = OidcClient(settings, clock=clock)
        tokens = browser_login(client, open_browser=False, prompt=prompt, max_age=max_age,
                               show_url=lambda url, _: nav.authorize(url, username,
                                                                     deliver=True),
                               timeout=30)
    finally:
        if browser is None:
            nav.close()
    if commit:
        commit_login(home, settings, FileStore(home), tokens)
    return tokens


@dataclass
class Cli:
    """Runs ``python -m kgate`` with a pinned environment."""

    home: Path
    env: dict[str, str]

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "kgate", *args], env=self.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=REPO)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kgate", *args], env=self.env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              cwd=REPO, timeout=timeout, check=False)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The CLI with its own home; no usable keyring unless a test sets one."""
    home = tmp_path / "cli-home"
    home.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
    env.update(KGATE_HOME=str(home), HOME=str(home), NO_COLOR="1", COLUMNS="200",
               TERM="dumb", PYTHONPATH=str(REPO),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    return Cli(home, env)


def read_until(proc: subprocess.Popen[str], predicate: Callable[[str], bool],
               seen: list[str]) -> str:
    """Read stderr lines until one satisfies ``predicate`` (bounded by the test timeout)."""
    assert proc.stderr is not None
    while True:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"kgate exited before the expected line: {''.join(seen)}")
        seen.append(line)
        if predicate(line.strip()):
            return line.strip()


def login_args(provider: OIDCProvider, *extra: str) -> list[str]:
    return ["login", "--issuer", provider.issuer, "--client-id", provider.client_id,
            "--ca-file", str(provider.ca_file), *extra]


def cli_browser_login(cli: Cli, provider: OIDCProvider, username: str, *extra: str,
                  cancel: bool = False) -> tuple[subprocess.Popen[str], str]:
    """Run ``kgate login --no-browser``, sign in at the printed URL; return (proc, stderr)."""
    proc = cli.start(*login_args(provider, "--no-browser", *extra))
    seen: list[str] = []
    try:
        url = read_until(proc, lambda line: line.startswith("https://"), seen)
        browser = provider.browser()
        try:
            browser.authorize(url, username, deliver=True, cancel=cancel)
        finally:
            browser.close()
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return proc, "".join(seen) + rest
