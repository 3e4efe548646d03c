"""Protobuf creates and pod streams through the real sandbox server, with kubectl 1.32 only.

The handlers are also covered by ``test_streams.py``'s loopback app; here they run in the real
sandbox server (``tests/fixtures/sandbox.py``: ``sandbox_kubeconfig``).
"""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from tests.fixtures.kube import KubectlRunner


@pytest.fixture
def kc(sandbox_kubeconfig: Path) -> Path:
    return sandbox_kubeconfig


def _get(kubectl: KubectlRunner, kc: Path, *args: str) -> dict:
    return orjson.loads(kubectl("get", *args, "-o", "json", kubeconfig=kc).stdout)


def test_protobuf_creates_are_stored(kc: Path, kubectl: KubectlRunner) -> None:
    kubectl("create", "namespace", "pb-test", kubeconfig=kc)
    kubectl("-n", "pb-test", "create", "secret", "generic", "s1", "--from-literal=password=dummy",
            kubeconfig=kc)
    secret = _get(kubectl, kc, "-n", "pb-test", "secret", "s1")
    assert base64.b64decode(secret["data"]["password"]) == b"dummy"
    kubectl("-n", "pb-test", "create", "configmap", "c1", "--from-literal=mode=fast",
            kubeconfig=kc)
    assert _get(kubectl, kc, "-n", "pb-test", "configmap", "c1")["data"] == {"mode": "fast"}
    kubectl("-n", "pb-test", "create", "deployment", "d1", "--image=nginx:1.27", "--replicas=2",
            "--port=8080", kubeconfig=kc)
    dep = _get(kubectl, kc, "-n", "pb-test", "deployment", "d1")
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["selector"]["matchLabels"] == {"app": "d1"}
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    assert (container["name"], container["image"]) == ("nginx", "nginx:1.27")
    assert container["ports"][0]["containerPort"] == 8080
    kubectl("-n", "pb-test", "create", "serviceaccount", "sa1", kubeconfig=kc)


def test_logs_and_exec_on_a_sandbox_pod(kc: Path, kubectl: KubectlRunner) -> None:
    kubectl("create", "namespace", "stream-test", kubeconfig=kc)
    kubectl("-n", "stream-test", "run", "p1", "--image=busybox:1.36", kubeconfig=kc)
    logs = kubectl("-n", "stream-test", "logs", "p1", kubeconfig=kc).stdout
    assert "p1" in logs
    proc = kubectl("-n", "stream-test", "exec", "p1", "--", "sh", "-c", "hostname; exit 4",
                   kubeconfig=kc, check=False)
    assert proc.returncode == 4 and proc.stdout == "p1\n"
