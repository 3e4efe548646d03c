"""Class 7 of issue 7: exec and logs print a mounted Secret's values with nothing around them.

Real kubectl 1.32 through the proxy against the sandbox. A Secret the agent never read (created
behind kgate's back) holds values of every shape kgate used to decline to learn — short, letters
only, digits only, a very long line, binary, multi-line — and a pod mounts it. ``cat`` of each file
must print none of them; an agent that floods the session with tens of thousands of other values
while an exec sleeps must not evict them; ``logs --limit-bytes`` that cuts a value must not emit
its first half.
"""

from __future__ import annotations

import base64
import subprocess
import time
from pathlib import Path

import pytest

from kgate.sandbox.registry import default_registry
from tests.attacks.leaks import assert_no_leak
from tests.attacks.rawhttp import raw_request
from tests.fixtures.kube import KubectlRunner, kubectl_env
from tests.fixtures.proxy import Proxied

pytestmark = pytest.mark.timeout(180)

# Fakes planted for this file, one per shape.
VALUES: dict[str, bytes] = {
    "short": b"Qz7x",
    "letters": b"correcthorsebatterystaple",
    "digits": b"918273645",
    "long": ("".join(f"{i:04x}" for i in range(3000))).encode(),   # 12,000 chars, one line
    "binary": bytes([0xFF, 0xFE, 0x00, 0x81]) + b"keystore\x00\x01\xC3bin4ry",
    "multiline": b"first-line-Pw\nsecond line Pw2\n",
    "flooded": b"Fl00d-Victim-Pw-1x",
}
LOG_PASSWORD = "Zq8-cut-by-limit-bytes"
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: mounted
  namespace: default
  annotations: {sandbox.kgate.dev/log: "connecting with @@PW@@"}
spec:
  containers:
  - name: app
    image: busybox
    volumeMounts: [{name: creds, mountPath: /etc/creds}]
  volumes: [{name: creds, secret: {secretName: shapes}}]
""".replace("@@PW@@", LOG_PASSWORD)


def _lines(value: bytes) -> list[bytes]:
    """What a leak check looks for: each line of at least 4 characters (what kgate pins)."""
    return [line.strip() for line in value.split(b"\n") if len(line.strip()) >= 4]


@pytest.fixture
def mounted(proxied: Proxied, kubectl: KubectlRunner, tmp_path: Path) -> Path:
    data = {k: base64.b64encode(v).decode() for k, v in VALUES.items()}
    data["log"] = base64.b64encode(LOG_PASSWORD.encode()).decode()
    secrets = default_registry().preferred("", "secrets")
    proxied.sandbox.run(lambda: proxied.sandbox.store.create(secrets, "default", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shapes"}, "data": data}))
    manifest = tmp_path / "mounted.yaml"
    manifest.write_text(POD)
    kc = proxied.kubeconfig
    kubectl("apply", "-f", str(manifest), kubeconfig=kc)
    kubectl("wait", "--for=condition=Ready", "pod/mounted", "--timeout=20s", kubeconfig=kc)
    return kc


def _exec(kubectl_bin: str, kc: Path, home: Path, *argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([kubectl_bin, "exec", "mounted", "--", *argv], capture_output=True,
                          env=kubectl_env(kc, home), timeout=60, check=False)


def test_every_value_of_a_mounted_secret_is_masked_whatever_its_shape(
        mounted: Path, kubectl_bin: str, tmp_path: Path) -> None:
    for key, value in VALUES.items():
        proc = _exec(kubectl_bin, mounted, tmp_path, "cat", f"/etc/creds/{key}")
        assert proc.returncode == 0, key
        assert_no_leak(proc.stdout + proc.stderr, _lines(value), f"cat of {key}")
        assert b"kgate:masked:" in proc.stdout, key
    both = _exec(kubectl_bin, mounted, tmp_path, "sh", "-c",
                 "cat /etc/creds/short; echo; cat /etc/creds/digits")
    assert_no_leak(both.stdout, [VALUES["short"], VALUES["digits"]], "two values")
    # What is not secret still comes through.
    assert _exec(kubectl_bin, mounted, tmp_path, "echo", "plain words").stdout == b"plain words\n"


def test_a_flood_of_other_values_does_not_evict_what_a_live_exec_was_primed_with(
        mounted: Path, proxied: Proxied, kubectl_bin: str, tmp_path: Path) -> None:
    flood = {f"k{i:05d}": base64.b64encode(f"flood-{i:05d}-value".encode()).decode()
             for i in range(60_000)}
    secrets = default_registry().preferred("", "secrets")
    proxied.sandbox.run(lambda: proxied.sandbox.store.create(secrets, "default", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "flood"}, "data": flood}))
    sleeper = subprocess.Popen(
        [kubectl_bin, "exec", "mounted", "--", "sh", "-c",
         "sleep 4; cat /etc/creds/flooded"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=kubectl_env(mounted, tmp_path))
    try:
        time.sleep(1.5)   # the exec is primed and sleeping (it sleeps 4 s)
        # The agent reads the flood through kgate: 60,000 new values reach the bounded set.
        reply = raw_request(proxied, "GET", "/api/v1/namespaces/default/secrets/flood", [])
        assert reply.startswith(b"HTTP/1.1 200")
        out, err = sleeper.communicate(timeout=60)
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait(10)
    assert_no_leak(out + err, [VALUES["flooded"]], "the sleeping exec")
    assert out.startswith(b"kgate:masked:")


def test_logs_cut_by_limit_bytes_never_show_the_start_of_a_secret(
        mounted: Path, kubectl: KubectlRunner) -> None:
    prefix = len("connecting with ")
    for cut in (prefix + 4, prefix + 8, prefix + len(LOG_PASSWORD) - 1):
        out = kubectl("logs", "mounted", f"--limit-bytes={cut}", kubeconfig=mounted).stdout
        assert_no_leak(out, [LOG_PASSWORD[:4]], f"--limit-bytes={cut}")
        assert out.startswith("connecting with kgate:masked:"), cut
