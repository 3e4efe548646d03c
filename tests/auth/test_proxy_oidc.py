"""``kgate proxy --upstream-auth oidc``: the user's ID token as the upstream bearer, kept fresh.

The sandbox trusts the test provider (as kube-apiserver with ``--oidc-issuer-url``) with no clock
leeway, and the provider issues 10-second ID tokens, so a session of ~25 s of kubectl calls
spans two expiries: every call must succeed, and the bearer must have been refreshed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kgate.auth.store import FileStore
from kgate.proxy.oidc_auth import OidcUpstreamAuth
from kgate.proxy.runner import ProxyOptions, ProxyThread
from kgate.proxy.stages.audit import MemoryAudit
from kgate.sandbox import runner
from kgate.sandbox.oidc import OIDCVerifier
from kgate.upstream_config import load_upstream
from tests.auth.conftest import Cli, login_in_process
from tests.fixtures.idp import OIDCProvider, start_oidc_provider
from tests.fixtures.kube import KubectlRunner

ID_TOKEN_TTL = 10


@pytest.fixture(scope="module")
def short_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCProvider]:
    with start_oidc_provider(tmp_path_factory.mktemp("idp-short"),
                             id_token_ttl=ID_TOKEN_TTL) as provider:
        yield provider


@pytest.fixture(scope="module")
def oidc_cluster(short_provider: OIDCProvider,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[runner.RunningSandbox]:
    verifier = OIDCVerifier(short_provider.issuer, short_provider.client_id,
                            ca_pem=short_provider.ca_pem, username_claim="email", leeway=0)
    options = runner.SandboxOptions(state_dir=tmp_path_factory.mktemp("oidc-cluster"), port=0,
                                    tokens={}, verifier=verifier)
    with runner.sandbox_in_thread(options) as sandbox:
        yield sandbox


def _upstream_kubeconfig(cluster: runner.RunningSandbox, path: Path) -> Path:
    # The kubeconfig's own token is worthless: only the OIDC bearer can work.
    return cluster.write_kubeconfig(path, token="not-a-valid-token")


@pytest.mark.timeout(180)
def test_kubectl_through_the_proxy_with_refresh_mid_session(
        short_provider: OIDCProvider, oidc_cluster: runner.RunningSandbox, home: Path,
        kubectl: KubectlRunner, tmp_path: Path) -> None:
    login_in_process(short_provider, home, "alice")
    upstream = _upstream_kubeconfig(oidc_cluster, tmp_path / "user" / "config")
    audit = MemoryAudit()
    thread = ProxyThread(ProxyOptions(upstream=load_upstream(upstream), home=home, audit=audit,
                                      upstream_auth="oidc"))
    proxy = thread.start()
    try:
        agent = proxy.write_kubeconfig(tmp_path / "agent" / "kubeconfig")
        whoami = kubectl("auth", "whoami", kubeconfig=agent)
        assert "alice@example.com" in whoami.stdout and "sre" in whoami.stdout
        auth = proxy.upstream.auth
        assert isinstance(auth, OidcUpstreamAuth)
        deadline = time.time() + 2.5 * ID_TOKEN_TTL
        calls = 0
        while time.time() < deadline:
            kubectl("get", "pods", "-A", kubeconfig=agent)  # check=True: any failure fails
            calls += 1
            time.sleep(0.5)
        assert calls >= 5
        assert auth.refreshes >= 2, "the ID token must have been refreshed during the session"
        statuses = [e.upstream_status for e in audit.exchanges if e.upstream_status is not None]
        assert statuses and 401 not in statuses
        stored = FileStore(home).load(f"{short_provider.issuer} kgate-cli")
        assert stored is not None and stored.refresh_token  # the rotated one was saved
    finally:
        thread.stop()


@pytest.mark.timeout(120)
def test_proxy_command_with_oidc_upstream(
        short_provider: OIDCProvider, oidc_cluster: runner.RunningSandbox, cli: Cli,
        kubectl: KubectlRunner, tmp_path: Path) -> None:
    upstream = _upstream_kubeconfig(oidc_cluster, tmp_path / "user" / "config")
    out = tmp_path / "agent" / "kubeconfig"
    args = ("proxy", "--no-grant", "--upstream-auth", "oidc", "--kubeconfig", str(upstream),
            "--kubeconfig-out", str(out))
    cli.env["KGATE_TOKEN_STORE"] = "file"

    not_configured = cli.run(*args)
    assert not_configured.returncode == 4, not_configured.stderr
    assert "no OIDC provider is configured" in not_configured.stderr
    assert "Traceback" not in not_configured.stderr and not out.exists()

    login_in_process(short_provider, cli.home, "bob")
    proc = cli.start(*args)
    try:
        while not out.exists():
            if proc.poll() is not None:
                raise AssertionError(f"kgate proxy exited: {proc.communicate()[1]}")
            time.sleep(0.05)
        whoami = kubectl("auth", "whoami", kubeconfig=out)
        assert "bob@example.com" in whoami.stdout
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, stderr
    assert "oidc credential" in stderr


@pytest.mark.timeout(120)
def test_revoked_login_fails_closed_through_the_proxy(
        short_provider: OIDCProvider, oidc_cluster: runner.RunningSandbox, home: Path,
        kubectl: KubectlRunner, tmp_path: Path) -> None:
    """Once the login is revoked, calls are refused with a kgate message, not sent unsigned."""
    tokens = login_in_process(short_provider, home, "alice")
    upstream = _upstream_kubeconfig(oidc_cluster, tmp_path / "user" / "config")
    thread = ProxyThread(ProxyOptions(upstream=load_upstream(upstream), home=home,
                                      upstream_auth="oidc"))
    proxy = thread.start()
    try:
        agent = proxy.write_kubeconfig(tmp_path / "agent" / "kubeconfig")
        kubectl("get", "pods", kubeconfig=agent)
        assert tokens.refresh_token
        short_provider.revoke(tokens.refresh_token)
        time.sleep(ID_TOKEN_TTL)  # the ID token reaches its refresh point
        failed = kubectl("get", "pods", kubeconfig=agent, check=False)
        assert failed.returncode != 0
        assert "run kgate login" in failed.stderr
        assert tokens.id_token not in failed.stderr
    finally:
        thread.stop()
