"""Bad input to ``kgate login``: one line, a hint, a documented exit code, nothing half-written."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kgate.auth.client import OidcClient
from kgate.auth.flows import browser_login
from kgate.errors import AuthError, ExitCode
from tests.auth.conftest import (
    Cli,
    cli_browser_login,
    login_args,
    login_in_process,
    read_until,
    settings_for,
)
from tests.fixtures.idp import OIDCProvider, start_oidc_provider


def _nothing_written(cli: Cli) -> None:
    assert not (cli.home / "config.toml").exists()
    assert not (cli.home / "oidc-tokens.json").exists()


def _one_error(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    assert "hint:" in stderr
    assert "Traceback" not in stderr


@pytest.fixture(scope="module")
def no_device_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCProvider]:
    with start_oidc_provider(tmp_path_factory.mktemp("idp-nodevice"),
                             device_flow=False) as provider:
        yield provider


@pytest.mark.timeout(60)
def test_unreachable_issuer(cli: Cli, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    out = cli.run("login", "--issuer", f"https://127.0.0.1:{port}", "--client-id", "kgate-cli",
                  "--no-browser")
    assert out.returncode == ExitCode.UNAVAILABLE, out.stderr
    assert "unreachable" in out.stderr
    _one_error(out.stderr)
    _nothing_written(cli)


@pytest.mark.timeout(60)
def test_http_issuer_is_refused(cli: Cli) -> None:
    out = cli.run("login", "--issuer", "http://127.0.0.1:1", "--client-id", "x")
    assert out.returncode == ExitCode.CONFIG
    assert "https" in out.stderr
    _one_error(out.stderr)
    _nothing_written(cli)


@pytest.mark.timeout(60)
def test_wrong_client_id(cli: Cli, oidc_provider: OIDCProvider) -> None:
    out = cli.run("login", "--issuer", oidc_provider.issuer, "--client-id", "no-such-client",
                  "--ca-file", str(oidc_provider.ca_file), "--no-browser")
    assert out.returncode == ExitCode.AUTH, out.stderr
    assert "no-such-client" in out.stderr and "--client-id" in out.stderr
    _one_error(out.stderr)
    _nothing_written(cli)
    device = cli.run("login", "--issuer", oidc_provider.issuer, "--client-id", "no-such-client",
                     "--ca-file", str(oidc_provider.ca_file), "--device")
    assert device.returncode == ExitCode.AUTH, device.stderr
    assert "invalid_client" in device.stderr
    _one_error(device.stderr)
    _nothing_written(cli)


@pytest.mark.timeout(120)
def test_user_cancels_in_the_browser(cli: Cli, oidc_provider: OIDCProvider) -> None:
    proc, stderr = cli_browser_login(cli, oidc_provider, "alice", cancel=True)
    assert proc.returncode == ExitCode.AUTH, stderr
    assert "cancelled" in stderr and "access_denied" in stderr
    _one_error(stderr)
    _nothing_written(cli)


@pytest.mark.timeout(60)
def test_busy_callback_port(cli: Cli, oidc_provider: OIDCProvider) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        out = cli.run(*login_args(oidc_provider, "--no-browser", "--port", str(port)))
    assert out.returncode == ExitCode.UNAVAILABLE, out.stderr
    assert f"127.0.0.1:{port}" in out.stderr and "--port" in out.stderr
    _one_error(out.stderr)
    _nothing_written(cli)


@pytest.mark.timeout(60)
def test_device_flow_not_offered(cli: Cli, no_device_provider: OIDCProvider) -> None:
    out = cli.run(*login_args(no_device_provider, "--device"))
    assert out.returncode == ExitCode.CONFIG, out.stderr
    assert "offers no device flow" in out.stderr and "without --device" in out.stderr
    _one_error(out.stderr)
    _nothing_written(cli)


@pytest.mark.timeout(60)
def test_login_times_out_cleanly(cli: Cli, oidc_provider: OIDCProvider) -> None:
    out = cli.run(*login_args(oidc_provider, "--no-browser", "--timeout", "1"))
    assert out.returncode == ExitCode.AUTH
    assert "no login arrived within 1s" in out.stderr
    _one_error(out.stderr)
    _nothing_written(cli)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("skew", [-3600.0, 3600.0])
def test_clock_skew_beyond_leeway(home: Path, oidc_provider: OIDCProvider,
                                  skew: float) -> None:
    """This machine's clock an hour off: the token is refused, and the reason says clock."""
    with pytest.raises(AuthError, match="clock") as caught:
        login_in_process(oidc_provider, home, "bob", clock=lambda: time.time() + skew)
    assert caught.value.exit_code == ExitCode.AUTH
    assert caught.value.hint and "NTP" in caught.value.hint
    assert not (home / "config.toml").exists() and not (home / "oidc-tokens.json").exists()


@pytest.mark.timeout(60)
def test_clock_skew_within_leeway_is_fine(home: Path, oidc_provider: OIDCProvider) -> None:
    tokens = login_in_process(oidc_provider, home, "bob", clock=lambda: time.time() - 20)
    assert tokens.refresh_token


@pytest.mark.timeout(60)
def test_a_callback_with_a_foreign_state_is_ignored(oidc_provider: OIDCProvider) -> None:
    """A page that races the real redirect with its own code cannot inject a login."""
    import requests

    client = OidcClient(settings_for(oidc_provider))

    def attack_then_sign_in(url: str, _opened: bool) -> None:
        redirect = url.split("redirect_uri=")[1].split("&")[0].replace("%3A", ":").replace(
            "%2F", "/")
        forged = requests.get(f"{redirect}?code=attacker-code&state=guess", timeout=10)
        assert forged.status_code == 400
        oidc_provider.browser().authorize(url, "alice", deliver=True)

    tokens = browser_login(client, open_browser=False, show_url=attack_then_sign_in,
                           timeout=30)
    from kgate.auth.idtoken import unverified_claims
    assert unverified_claims(tokens.id_token)["sub"] == "alice"


@pytest.mark.timeout(60)
def test_device_code_nobody_approves_expires(home: Path, tmp_path: Path) -> None:
    from kgate.auth.flows import device_login

    shown: list[str] = []
    with start_oidc_provider(tmp_path / "idp-device", device_code_ttl=2) as provider:
        client = OidcClient(settings_for(provider))
        with pytest.raises(AuthError, match="expired") as caught:
            device_login(client, show_grant=lambda grant, _: shown.append(grant.user_code))
    assert caught.value.exit_code == ExitCode.AUTH
    assert caught.value.hint and "kgate login --device" in caught.value.hint
    assert len(shown) == 1


@pytest.mark.timeout(120)
def test_cli_step_up_login(cli: Cli, oidc_provider: OIDCProvider) -> None:
    assert cli_browser_login(cli, oidc_provider, "alice")[0].returncode == 0
    proc = cli.start("login", "--no-browser", "--max-age", "60")
    seen: list[str] = []
    try:
        url = read_until(proc, lambda line: line.startswith("https://"), seen)
        assert "prompt=login" in url and "max_age=60" in url
        browser = oidc_provider.browser()
        try:
            browser.authorize(url, "alice", deliver=True)
            assert browser.logins == 1  # the provider asked for the password
        finally:
            browser.close()
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, "".join(seen) + rest
    out = cli.run("whoami", "--json")
    assert out.returncode == 0 and '"auth_time"' in out.stdout
