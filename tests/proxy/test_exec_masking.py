"""exec output through the proxy with the real masking engine: masked, timely, in order."""

from __future__ import annotations

import base64
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kgate.sandbox.registry import default_registry
from tests.fixtures.kube import KubectlRunner, kubectl_env
from tests.fixtures.proxy import Proxied

TOKEN = "ghp_" + "Q7" * 18  # GitHub token shape; fake
POD = """\
apiVersion: v1
kind: Pod
metadata: {name: shell, namespace: default}
spec:
  containers:
  - name: app
    image: busybox
    env: [{name: GITHUB_TOKEN, value: "@@TOKEN@@"}, {name: LOG_LEVEL, value: debug}]
""".replace("@@TOKEN@@", TOKEN)


@pytest.fixture
def shell(proxied: Proxied, kubectl: KubectlRunner, tmp_path: Path) -> Path:
    manifest = tmp_path / "shell.yaml"
    manifest.write_text(POD)
    kc = proxied.kubeconfig
    kubectl("apply", "-f", str(manifest), kubeconfig=kc)
    kubectl("wait", "--for=condition=Ready", "pod/shell", "--timeout=20s", kubeconfig=kc)
    return kc


def test_exec_output_is_masked_and_the_rest_kept(shell: Path, kubectl: KubectlRunner) -> None:
    out = kubectl("exec", "shell", "--", "env", kubeconfig=shell).stdout
    assert TOKEN not in out
    assert "GITHUB_TOKEN=kgate:masked:" in out and "LOG_LEVEL=debug" in out
    said = kubectl("exec", "shell", "--", "sh", "-c", "echo token is $GITHUB_TOKEN",
                   kubeconfig=shell).stdout
    assert TOKEN not in said and said.startswith("token is kgate:masked:")


def test_a_held_partial_line_still_arrives_with_the_exit_code(shell: Path,
                                                              kubectl: KubectlRunner) -> None:
    # No trailing newline, then a non-zero exit: the masker holds the partial line, and it
    # must still be delivered (masked) alongside the exit status.
    proc = kubectl("exec", "shell", "--", "sh", "-c", "echo -n $GITHUB_TOKEN; exit 3",
                   kubeconfig=shell, check=False)
    assert proc.returncode == 3
    assert proc.stdout.startswith("kgate:masked:") and TOKEN not in proc.stdout


@pytest.mark.timeout(60)
def test_a_prompt_without_newline_shows_while_the_command_waits(shell: Path, kubectl_bin: str,
                                                                tmp_path: Path) -> None:
    # The command cannot finish until the test closes stdin, so the prompt can only arrive
    # early if kgate flushed it when upstream went quiet.
    proc = subprocess.Popen(
        [kubectl_bin, "exec", "-i", "shell", "--", "sh", "-c", "echo -n 'ready> '; cat"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=kubectl_env(shell, tmp_path))
    assert proc.stdin is not None and proc.stdout is not None
    pool = ThreadPoolExecutor(1)
    try:
        prompt = pool.submit(proc.stdout.read, 7)
        assert prompt.result(timeout=20) == b"ready> "
        assert proc.poll() is None
        proc.stdin.write(b"hello\n")
        proc.stdin.close()
        assert proc.stdout.read() == b"hello\n"
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()  # unblocks the reader thread before the pool is shut down
        proc.wait(10)
        pool.shutdown()


MOUNTED = """\
apiVersion: v1
kind: Pod
metadata:
  name: mounted
  namespace: default
  annotations: {sandbox.kgate.dev/log: "connecting with @@PASSWORD@@"}
spec:
  containers:
  - name: app
    image: busybox
    volumeMounts: [{name: creds, mountPath: /etc/creds}]
    envFrom: [{secretRef: {name: absent, optional: true}}]
  volumes: [{name: creds, secret: {secretName: db}}]
"""
PASSWORD = "Zq8-no-context-at-all"  # no key=, no known shape: only priming can catch it


def test_values_of_secrets_the_session_never_read_are_masked(proxied: Proxied,
                                                             kubectl: KubectlRunner,
                                                             tmp_path: Path) -> None:
    # The Secret is created behind kgate's back (straight into the sandbox): the agent's
    # session has never seen it, yet exec and logs output must not show its value.
    secrets = default_registry().preferred("", "secrets")
    proxied.sandbox.run(lambda: proxied.sandbox.store.create(secrets, "default", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
        "data": {"password": base64.b64encode(PASSWORD.encode()).decode()}}))
    manifest = tmp_path / "mounted.yaml"
    manifest.write_text(MOUNTED.replace("@@PASSWORD@@", PASSWORD))
    kc = proxied.kubeconfig
    kubectl("apply", "-f", str(manifest), kubeconfig=kc)
    kubectl("wait", "--for=condition=Ready", "pod/mounted", "--timeout=20s", kubeconfig=kc)
    catted = kubectl("exec", "mounted", "--", "cat", "/etc/creds/password", kubeconfig=kc)
    assert PASSWORD not in catted.stdout and catted.stdout.startswith("kgate:masked:")
    logs = kubectl("logs", "mounted", kubeconfig=kc).stdout
    assert PASSWORD not in logs and logs.startswith("connecting with kgate:masked:")
    assert kubectl("exec", "mounted", "--", "echo", "fine", kubeconfig=kc).stdout == "fine\n"
