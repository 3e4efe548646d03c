"""Real kubectl 1.32 against the sandbox with OIDC ID tokens from the real test provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kgate.kubeconfig import write_kubeconfig
from kgate.sandbox import runner
from kgate.sandbox.oidc import OIDCVerifier
from tests.fixtures.idp import OIDCProvider
from tests.fixtures.kube import KubectlRunner

UNAUTHORIZED = "error: You must be logged in to the server (Unauthorized)"


@pytest.fixture(scope="module")
def oidc_sandbox(oidc_provider: OIDCProvider,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A sandbox that accepts ID tokens from the test provider, usernames from ``email``."""
    verifier = OIDCVerifier(oidc_provider.issuer, oidc_provider.client_id,
                            ca_pem=oidc_provider.ca_pem, username_claim="email")
    options = runner.SandboxOptions(state_dir=tmp_path_factory.mktemp("oidc-sandbox"), port=0,
                                    tokens={}, verifier=verifier)
    with runner.sandbox_in_thread(options) as sandbox:
        yield sandbox


def _kubeconfig(sandbox: Any, token: str, path: Path) -> Path:
    return write_kubeconfig(path, server=sandbox.url, ca_pem=sandbox.ca_pem, token=token,
                            namespace="default")


def test_whoami_shows_the_oidc_user(oidc_sandbox: Any, oidc_provider: OIDCProvider,
                                    kubectl: KubectlRunner, tmp_path: Path) -> None:
    tokens = oidc_provider.login("alice")
    config = _kubeconfig(oidc_sandbox, tokens.id_token, tmp_path / "kube" / "config")
    whoami = kubectl("auth", "whoami", kubeconfig=config)
    assert "alice@example.com" in whoami.stdout
    assert "[sre dev system:authenticated]" in whoami.stdout


def test_get_pods_with_an_id_token(oidc_sandbox: Any, oidc_provider: OIDCProvider,
                                   kubectl: KubectlRunner, tmp_path: Path) -> None:
    tokens = oidc_provider.login("bob")
    config = _kubeconfig(oidc_sandbox, tokens.id_token, tmp_path / "kube" / "config")
    pods = kubectl("get", "pods", "-A", kubeconfig=config)
    assert "No resources found" in pods.stderr  # an answer from the API server, not an error
    made = kubectl("create", "configmap", "oidc-made", "--from-literal=k=v", kubeconfig=config)
    assert "configmap/oidc-made created" in made.stdout
    got = kubectl("get", "configmap", "oidc-made", "-o", "jsonpath={.data.k}", kubeconfig=config)
    assert got.stdout == "v"


def test_kubectl_token_flag_overrides_the_kubeconfig(oidc_sandbox: Any,
                                                     oidc_provider: OIDCProvider,
                                                     kubectl: KubectlRunner,
                                                     tmp_path: Path) -> None:
    tokens = oidc_provider.login("bob")
    config = _kubeconfig(oidc_sandbox, "not-a-token", tmp_path / "kube" / "config")
    # check=False and our own message: the runner would echo argv, token included, on failure.
    proc = kubectl("get", "namespaces", "-o", "name", f"--token={tokens.id_token}",
                   kubeconfig=config, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "namespace/default" in proc.stdout


@pytest.mark.parametrize("case", ["garbage", "tampered", "other-audience"])
def test_bad_tokens_are_unauthorized(case: str, oidc_sandbox: Any, oidc_provider: OIDCProvider,
                                     kubectl: KubectlRunner, tmp_path: Path) -> None:
    good = oidc_provider.login("bob").id_token
    if case == "garbage":
        token = "not-a-token"
    elif case == "tampered":
        header, payload, signature = good.split(".")
        token = f"{header}.{payload[:-4]}AAAA.{signature}"
    else:
        token = oidc_provider.login("alice", client_id="other-app").id_token
    bad = _kubeconfig(oidc_sandbox, token, tmp_path / "bad" / "config")

    # With no discovery cache, kubectl 1.32 fails on discovery and words the 401 generically.
    cold = kubectl("get", "pods", kubeconfig=bad, check=False)
    assert cold.returncode == 1
    assert "error: You must be logged in to the server" in cold.stderr
    # With discovery cached (a valid user ran kubectl before), the pods request itself gets the
    # Status and kubectl prints its reason, as against a real kube-apiserver.
    kubectl("get", "pods", kubeconfig=_kubeconfig(oidc_sandbox, good, tmp_path / "ok" / "config"))
    warm = kubectl("get", "pods", kubeconfig=bad, check=False)
    assert warm.returncode == 1
    assert UNAUTHORIZED in warm.stderr
    assert token not in cold.stderr + warm.stderr
