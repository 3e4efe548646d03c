"""The agent holds only a session token: it cannot reach upstream, impersonate, or escape."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kgate.kubeconfig import write_kubeconfig
from kgate.proxy.attributes import parse_request
from tests.fixtures.kube import KubectlRunner
from tests.fixtures.proxy import BROKER_USER, Proxied, start_proxy_thread


def _raw(proxied: Proxied, path: str, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    ctx = ssl.create_default_context(cadata=proxied.proxy.ca_pem.decode())
    req = urllib.request.Request(proxied.proxy.url + path, headers=headers)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_upstream_sees_the_broker_not_the_session(proxied: Proxied, kubectl: KubectlRunner,
                                                  tmp_path: Path) -> None:
    whoami = kubectl("auth", "whoami", "-o", "json", kubeconfig=proxied.kubeconfig)
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == BROKER_USER.username
    # The session token means nothing to the API server itself.
    direct = write_kubeconfig(tmp_path / "direct" / "config", server=proxied.sandbox_url,
                              ca_pem=proxied.sandbox.ca_pem, token=proxied.proxy.session.token)
    refused = kubectl("get", "pods", kubeconfig=direct, check=False)
    assert refused.returncode != 0 and "You must be logged in" in refused.stderr


def test_agent_kubeconfig_holds_no_upstream_credential(proxied: Proxied) -> None:
    data = proxied.kubeconfig.read_bytes()
    assert proxied.broker_token.encode() not in data
    assert proxied.sandbox_url.encode() not in data
    assert proxied.proxy.session.token.encode() in data
    assert proxied.kubeconfig.stat().st_mode & 0o777 == 0o600
    assert proxied.kubeconfig.parent.stat().st_mode & 0o777 == 0o700
    assert len(proxied.proxy.session.token) >= 43  # 32 random bytes, base64url


def test_impersonation_is_refused(proxied: Proxied, kubectl: KubectlRunner) -> None:
    kubectl("get", "pods", kubeconfig=proxied.kubeconfig)  # discovery cached, as in a session
    proc = kubectl("--as=system:admin", "get", "pods", kubeconfig=proxied.kubeconfig,
                   check=False)
    assert proc.returncode != 0
    assert "Error from server (Forbidden): kgate: denied by rule no-impersonation" in proc.stderr
    code, body = _raw(proxied, "/api/v1/namespaces", {
        "Authorization": f"Bearer {proxied.proxy.session.token}",
        "Impersonate-User": "system:admin"})
    assert code == 403 and body["kind"] == "Status" and body["reason"] == "Forbidden"
    assert str(body["message"]).startswith("kgate: denied by rule no-impersonation")
    assert proxied.exchanges[-1].rule == "no-impersonation"


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic Zm9vOmJhcg=="}])
def test_missing_or_wrong_token_is_401(proxied: Proxied, headers: dict[str, str]) -> None:
    code, body = _raw(proxied, "/api/v1/namespaces", headers)
    assert code == 401 and body["reason"] == "Unauthorized"
    assert str(body["message"]).startswith("kgate:")


def test_wrong_token_through_kubectl(proxied: Proxied, kubectl: KubectlRunner,
                                     tmp_path: Path) -> None:
    stolen = write_kubeconfig(tmp_path / "guess" / "config", server=proxied.proxy.url,
                              ca_pem=proxied.proxy.ca_pem, token="guessed")
    proc = kubectl("get", "pods", kubeconfig=stolen, check=False)
    assert proc.returncode != 0 and "You must be logged in" in proc.stderr
    assert proxied.exchanges[-1].status == 401


def test_stolen_kubeconfig_stops_working_when_the_proxy_stops(proxied: Proxied,
                                                              kubectl: KubectlRunner) -> None:
    kubectl("get", "pods", kubeconfig=proxied.kubeconfig)
    proxied.stop()
    proc = kubectl("get", "pods", kubeconfig=proxied.kubeconfig, check=False)
    assert proc.returncode != 0 and "was refused" in proc.stderr


def test_non_canonical_paths_are_refused(proxied: Proxied, kubectl: KubectlRunner) -> None:
    proc = kubectl("get", "--raw", "/api/v1/namespaces/default/pods/../secrets",
                   kubeconfig=proxied.kubeconfig, check=False)
    assert proc.returncode != 0
    assert "(BadRequest): kgate: refusing a non-canonical request path" in proc.stderr
    code, body = _raw(proxied, "/api/v1/namespaces/default/pods/%2e%2e/secrets",
                      {"Authorization": f"Bearer {proxied.proxy.session.token}"})
    assert code == 400 and body["code"] == 400


def test_upstream_down_is_a_503_kubectl_prints(proxied: Proxied, kubectl: KubectlRunner,
                                               tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = write_kubeconfig(tmp_path / "dead" / "config", server=f"https://127.0.0.1:{port}",
                            ca_pem=proxied.sandbox.ca_pem, token="irrelevant")
    thread, proxy, _ = start_proxy_thread(dead, tmp_path / "home2")
    try:
        kc = proxy.write_kubeconfig(tmp_path / "agent2" / "config")
        proc = kubectl("get", "pods", kubeconfig=kc, check=False)
        assert proc.returncode != 0 and "(ServiceUnavailable)" in proc.stderr
        # Discovery errors are printed generically; a resource call shows kgate's Status.
        raw = kubectl("get", "--raw", "/api/v1/namespaces/default/pods", kubeconfig=kc,
                      check=False)
        assert "Error from server (ServiceUnavailable): kgate: the API server" in raw.stderr
        assert f"127.0.0.1:{port}" in raw.stderr and "unreachable" in raw.stderr
    finally:
        thread.stop()


def test_non_resource_requests_pass(proxied: Proxied) -> None:
    code, body = _raw(proxied, "/version",
                      {"Authorization": f"Bearer {proxied.proxy.session.token}"})
    assert code == 200 and "gitVersion" in body
    assert not parse_request("GET", "/version").is_resource


def test_rejected_broker_credential_is_named(proxied: Proxied, kubectl: KubectlRunner,
                                             tmp_path: Path) -> None:
    stale = write_kubeconfig(tmp_path / "stale" / "config", server=proxied.sandbox_url,
                             ca_pem=proxied.sandbox.ca_pem, token="expired-broker-token")
    thread, proxy, _ = start_proxy_thread(stale, tmp_path / "home4")
    try:
        kc = proxy.write_kubeconfig(tmp_path / "agent4" / "config")
        raw = kubectl("get", "--raw", "/api/v1/namespaces/default/pods", kubeconfig=kc,
                      check=False)
        assert "(BadGateway): kgate: the API server" in raw.stderr
        assert "rejected kgate's upstream credential" in raw.stderr
    finally:
        thread.stop()
