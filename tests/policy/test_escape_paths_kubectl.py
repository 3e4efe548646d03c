"""Each escape path, tried with real kubectl 1.32 through the proxy, is denied by its named rule.

These run under the permissive test policy (guardrails only): the guardrails are built in, not
something the default policy file has to remember.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from kgate.proxy.session import Exchange
from tests.fixtures.kube import KubectlRunner
from tests.fixtures.proxy import Proxied

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: default}
spec:
  containers: [{name: app, image: busybox:1.36, command: [sleep, "3600"]}]
"""

CSR = """\
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: agent-csr}
spec:
  request: %s
  signerName: kubernetes.io/kube-apiserver-client
  usages: [client auth]
"""


def _records(proxied: Proxied, rule: str) -> list[Exchange]:
    """The exchanges ``rule`` decided (the record lands just after kubectl got the reply)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [e for e in proxied.exchanges if e.rule == rule]
        if found:
            return found
        time.sleep(0.05)
    return []


def _csr() -> str:
    pem = b"-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"
    return CSR % base64.b64encode(pem).decode()


@pytest.fixture
def with_pod(proxied: Proxied, kubectl: KubectlRunner, tmp_path: Path) -> Path:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD)
    kubectl("apply", "-f", str(manifest), kubeconfig=proxied.kubeconfig)
    return proxied.kubeconfig


CASES = [
    ("no-token-request", ["create", "token", "default"]),
    ("no-sa-token-secrets", ["create", "secret", "generic", "sa-tok",
                             "--type=kubernetes.io/service-account-token",
                             "--from-literal=x=y"]),
    ("no-proxy-subresources", ["get", "--raw", "/api/v1/namespaces/default/pods/app/proxy/"]),
    ("no-ephemeral-containers", ["debug", "app", "--image=busybox:1.36", "--target=app",
                                 "--", "true"]),
    ("no-rbac-escalation", ["create", "clusterrolebinding", "agent-admin",
                            "--clusterrole=cluster-admin", "--user=agent"]),
    ("no-node-access", ["get", "--raw", "/api/v1/nodes/node-1/proxy/logs/"]),
    ("no-impersonation", ["get", "pods", "--as=system:admin"]),
]


@pytest.mark.parametrize(("rule", "args"), CASES, ids=[c[0] for c in CASES])
def test_escape_path_denied_by_named_rule(rule: str, args: list[str], with_pod: Path,
                                          proxied: Proxied, kubectl: KubectlRunner) -> None:
    proc = kubectl(*args, kubeconfig=with_pod, check=False)
    assert proc.returncode != 0
    assert f"kgate: denied by rule {rule}: " in proc.stderr, proc.stderr
    denied = _records(proxied, rule)
    assert denied and all(e.status == 403 for e in denied)
    assert all(e.upstream_status is None for e in denied)  # never forwarded


def test_sa_token_secret_body_was_protobuf(with_pod: Path, proxied: Proxied,
                                           kubectl: KubectlRunner) -> None:
    kubectl("create", "secret", "generic", "sa-tok", "--type=kubernetes.io/service-account-token",
            "--from-literal=x=y", kubeconfig=with_pod, check=False)
    record = _records(proxied, "no-sa-token-secrets")[0]
    assert record.body is not None and record.body.media_type.endswith("protobuf")
    # An ordinary protobuf Secret still goes through.
    kubectl("create", "secret", "generic", "plain", "--from-literal=x=y", kubeconfig=with_pod)


def test_csr_create_denied(with_pod: Path, proxied: Proxied, kubectl: KubectlRunner,
                           tmp_path: Path) -> None:
    manifest = tmp_path / "csr.yaml"
    manifest.write_text(_csr())
    proc = kubectl("create", "-f", str(manifest), kubeconfig=with_pod, check=False)
    assert proc.returncode != 0
    assert "kgate: denied by rule no-csr: " in proc.stderr, proc.stderr


def test_binding_to_an_ordinary_role_is_allowed(with_pod: Path, kubectl: KubectlRunner) -> None:
    kubectl("create", "clusterrolebinding", "agent-view", "--clusterrole=view", "--user=agent",
            kubeconfig=with_pod)
