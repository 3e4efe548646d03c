"""Streams through the proxy: watches, followed logs, exec with stdin and exit codes,
port-forward's refusal (the sandbox has no port-forward) reaching kubectl unchanged."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.kube import KubectlRunner, popen_kubectl
from tests.fixtures.proxy import Proxied

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: default
  annotations:
    sandbox.kgate.dev/log: "booted"
    sandbox.kgate.dev/log-every: "200ms"
spec:
  containers: [{name: app, image: busybox}]
"""


def _pod(kubectl: KubectlRunner, kc: Path, tmp_path: Path, name: str) -> None:
    manifest = tmp_path / f"{name}.yaml"
    manifest.write_text(POD % name)
    kubectl("apply", "-f", str(manifest), kubeconfig=kc)
    kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=20s", kubeconfig=kc)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


@pytest.mark.timeout(60)
def test_get_watch_streams_events(proxied: Proxied, kubectl: KubectlRunner, kubectl_bin: str,
                                  tmp_path: Path) -> None:
    kc = proxied.kubeconfig
    kubectl("create", "configmap", "first", kubeconfig=kc)
    proc = popen_kubectl(kubectl_bin, ["get", "configmaps", "-w", "--output-watch-events"], kc,
                         tmp_path)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split()[:1] == ["EVENT"]
        assert proc.stdout.readline().split()[:2] == ["ADDED", "first"]
        kubectl("create", "configmap", "second", kubeconfig=kc)
        seen: list[str] = []
        while not any("second" in line for line in seen):  # bounded by the test timeout
            seen.append(proc.stdout.readline())
        assert seen[-1].split()[:2] == ["ADDED", "second"], seen
        assert proc.poll() is None  # still watching: the event came through a live stream
    finally:
        _stop(proc)
    # The proxy notices the client went away and closes the upstream watch, then audits it.
    while not any(e.attributes and e.attributes.verb == "watch" for e in proxied.exchanges):
        time.sleep(0.05)  # bounded by the test timeout


@pytest.mark.timeout(60)
def test_logs_follow_streams(proxied: Proxied, kubectl: KubectlRunner, kubectl_bin: str,
                             tmp_path: Path) -> None:
    kc = proxied.kubeconfig
    _pod(kubectl, kc, tmp_path, "ticker")
    proc = popen_kubectl(kubectl_bin, ["logs", "-f", "ticker"], kc, tmp_path)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "booted\n"
        assert proc.stdout.readline().rstrip().endswith("heartbeat n=1")
        assert proc.stdout.readline().rstrip().endswith("heartbeat n=2")
        assert proc.poll() is None
        kubectl("delete", "pod", "ticker", "--wait=false", kubeconfig=kc)
        proc.wait(timeout=20)
        assert proc.returncode == 0
    finally:
        _stop(proc)


def test_exec_stdin_and_exit_codes(proxied: Proxied, kubectl: KubectlRunner,
                                   tmp_path: Path) -> None:
    kc = proxied.kubeconfig
    _pod(kubectl, kc, tmp_path, "shell")
    assert kubectl("exec", "shell", "--", "echo", "hi", kubeconfig=kc).stdout == "hi\n"
    echoed = kubectl("exec", "-i", "shell", "--", "cat", kubeconfig=kc, input="line1\nline2\n")
    assert echoed.stdout == "line1\nline2\n"
    three = kubectl("exec", "shell", "--", "sh", "-c", "echo out; exit 3", kubeconfig=kc,
                    check=False)
    assert three.returncode == 3 and three.stdout == "out\n"
    assert "command terminated with exit code 3" in three.stderr
    missing = kubectl("exec", "shell", "--", "cat", "/nope", kubeconfig=kc, check=False)
    assert missing.returncode == 1 and "No such file or directory" in missing.stderr
    upgraded = [e for e in proxied.exchanges if e.upgraded]
    assert upgraded and all(e.attributes and e.attributes.verb == "create" for e in upgraded)
    assert upgraded[0].kubectl_command == "kubectl exec"


@pytest.mark.timeout(60)
def test_attach_follows_output(proxied: Proxied, kubectl: KubectlRunner, kubectl_bin: str,
                               tmp_path: Path) -> None:
    kc = proxied.kubeconfig
    _pod(kubectl, kc, tmp_path, "attached")
    proc = popen_kubectl(kubectl_bin, ["attach", "attached"], kc, tmp_path)
    try:
        assert proc.stdout is not None
        assert "heartbeat n=1" in proc.stdout.readline()
        assert "heartbeat n=2" in proc.stdout.readline()
        kubectl("delete", "pod", "attached", "--wait=false", kubeconfig=kc)
        proc.wait(timeout=20)
    finally:
        _stop(proc)


def test_port_forward_refusal_reaches_kubectl(proxied: Proxied, kubectl: KubectlRunner,
                                              tmp_path: Path) -> None:
    kc = proxied.kubeconfig
    _pod(kubectl, kc, tmp_path, "web")
    proc = kubectl("port-forward", "pod/web", "0:80", kubeconfig=kc, check=False, timeout=30)
    assert proc.returncode != 0
    assert "does not support port-forward" in proc.stderr
    # WebSocket first, then kubectl's own SPDY fallback: both upstream replies passed through.
    # The proxy records an exchange just after its reply is out, so kubectl may exit first.
    deadline = time.monotonic() + 10
    while True:
        tries = [e for e in proxied.exchanges
                 if e.attributes and e.attributes.subresource == "portforward"]
        if len(tries) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert len(tries) >= 2 and all(e.status not in (101, 502, 503) for e in tries)


def test_official_python_client(proxied: Proxied) -> None:
    from kubernetes import client, config, watch

    api_client = config.new_client_from_config(str(proxied.kubeconfig))
    api = client.CoreV1Api(api_client)
    api.create_namespaced_config_map("default", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="from-python"), data={"k": "v"}))
    assert api.read_namespaced_config_map("from-python", "default").data == {"k": "v"}
    names = [cm.metadata.name for cm in api.list_namespaced_config_map("default").items]
    assert "from-python" in names
    events = watch.Watch().stream(api.list_namespaced_config_map, "default",
                                  timeout_seconds=5)
    first = next(iter(events))
    assert first["type"] == "ADDED"
    api.delete_namespaced_config_map("from-python", "default")
