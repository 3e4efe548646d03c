"""Issue 7, classes 6 and 7 in logs: secrets that span lines, read with real kubectl.

The sandbox streams a pod's log one line per chunk, so a masker that looks at one line at a
time never sees a YAML value below its key (``password: |`` then the value, or ``api_token:``
then the value on the next line) or a PGP/PEM private key as one text. A pod prints all four;
``kubectl logs`` (whole, cut by ``--limit-bytes`` at many points inside the blocks, and
followed with ``-f``) must print none of the planted values — not whole, not a line of one, not
a piece of a line — while the lines around them come through. Failure messages name the cut,
never a value.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import yaml

from tests.attacks.leaks import assert_no_leak
from tests.fixtures.kube import KubectlRunner, popen_kubectl
from tests.fixtures.proxy import Proxied

pytestmark = pytest.mark.timeout(180)


def _b64line(n: int) -> str:
    return secrets.token_urlsafe(n * 3 // 4).replace("-", "+").replace("_", "/")[:n]


BLOCK_VALUE = [secrets.token_urlsafe(18), secrets.token_urlsafe(18)]
NEXT_VALUE = secrets.token_urlsafe(18)
PGP_BODY = [_b64line(64) for _ in range(4)]
PEM_BODY = [_b64line(64) for _ in range(4)]
SECRETS = ["\n".join(BLOCK_VALUE), NEXT_VALUE, "\n".join(PGP_BODY), "\n".join(PEM_BODY)]
#: Pieces of secret lines: a cut stream must not print even the start of one.
PIECES = [line[i:i + 10] for s in SECRETS for line in s.splitlines()
          for i in range(0, len(line) - 9, 5)]

LOG = "\n".join([
    "starting app",
    "config:",
    "  password: |",
    *(f"    {v}" for v in BLOCK_VALUE),
    "  user: bob",
    "db:",
    "  api_token:",
    f"    {NEXT_VALUE}",
    "  port: 5432",
    "-----BEGIN PGP PRIVATE KEY BLOCK-----",
    "Version: GnuPG v2",
    "",
    *PGP_BODY,
    "=AbCd",
    "-----END PGP PRIVATE KEY BLOCK-----",
    "pgp done",
    "-----BEGIN RSA PRIVATE KEY-----",
    *PEM_BODY,
    "-----END RSA PRIVATE KEY-----",
    "ready",
])
POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "multiline", "namespace": "default",
                 "annotations": {"sandbox.kgate.dev/log": LOG,
                                 "sandbox.kgate.dev/log-every": "200ms"}},
    "spec": {"containers": [{"name": "app", "image": "example/app:1.0"}]},
}


def _no_piece(out: str, where: str) -> None:
    found = sum(piece in out for piece in PIECES)
    assert not found, f"{found} pieces of secret lines leaked in {where}"


def _follow(kubectl_bin: str, kc: Path, tmp_path: Path, *flags: str) -> str:
    """``kubectl logs -f`` until the pod's first heartbeat after the planted blocks."""
    proc = popen_kubectl(kubectl_bin, ["logs", "-f", *flags, "multiline"], kc, tmp_path)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any("heartbeat n=1" in line for line in lines):  # bounded by the timeout
            line = proc.stdout.readline()
            assert line, "logs -f ended early"
            lines.append(line)
        return "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def _cuts() -> list[int]:
    """Byte counts that end the stream inside each block, on and around its lines."""
    raw = (LOG + "\n").encode()
    marks = [raw.index(m.encode()) for m in ("  password", "  api_token", "-----BEGIN PGP",
                                              "-----BEGIN RSA")]
    ends = [raw.index(m.encode()) for m in ("  user: bob", "  port", "pgp done", "ready")]
    cuts: set[int] = set()
    for lo, hi in zip(marks, ends, strict=True):
        cuts.update(range(lo + 3, hi, max(1, (hi - lo) // 12)))
        cuts.update(raw.index(b"\n", p) + d for p in range(lo, hi, 40) for d in (0, 1, 5)
                    if raw.index(b"\n", p) + d < hi)
    return sorted(cuts)


def test_multiline_secrets_in_logs(proxied: Proxied, kubectl: KubectlRunner, kubectl_bin: str,
                                   tmp_path: Path) -> None:
    kc = proxied.kubeconfig
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(yaml.safe_dump(POD))
    kubectl("apply", "-f", str(manifest), kubeconfig=kc)
    kubectl("wait", "--for=condition=Ready", "pod/multiline", "--timeout=20s", kubeconfig=kc)

    whole = kubectl("logs", "multiline", kubeconfig=kc).stdout
    assert_no_leak(whole, SECRETS, "logs")
    _no_piece(whole, "logs")
    for kept in ("starting app", "  password: |", "  user: bob", "  api_token:", "  port: 5432",
                 "-----BEGIN PGP PRIVATE KEY BLOCK-----", "pgp done", "ready"):
        assert kept in whole.splitlines(), f"{kept!r} did not come through"
    assert whole.count("kgate:masked:") >= 4

    for cut in _cuts():
        out = kubectl("logs", "multiline", f"--limit-bytes={cut}", kubeconfig=kc).stdout
        assert_no_leak(out, SECRETS, f"logs --limit-bytes={cut}")
        _no_piece(out, f"logs --limit-bytes={cut}")

    followed = _follow(kubectl_bin, kc, tmp_path)
    assert "ready\n" in followed, "the last log line was held back in logs -f"
    assert_no_leak(followed, SECRETS, "logs -f")
    _no_piece(followed, "logs -f")
    assert followed.count("kgate:masked:") >= 4


def test_multiline_secrets_in_logs_with_timestamps(proxied: Proxied, kubectl: KubectlRunner,
                                                   kubectl_bin: str, tmp_path: Path) -> None:
    """``--timestamps`` puts an RFC 3339 stamp before every line: the YAML key's indent and the
    PGP armour's blank line are behind it. Asking for timestamps must not turn the holds off."""
    kc = proxied.kubeconfig
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(yaml.safe_dump(POD))
    kubectl("apply", "-f", str(manifest), kubeconfig=kc)
    kubectl("wait", "--for=condition=Ready", "pod/multiline", "--timeout=20s", kubeconfig=kc)

    whole = kubectl("logs", "multiline", "--timestamps", kubeconfig=kc).stdout
    assert_no_leak(whole, SECRETS, "logs --timestamps")
    _no_piece(whole, "logs --timestamps")
    lines = whole.splitlines()
    assert lines and all(line[:4].isdigit() and "T" in line[:20] for line in lines[:3]), \
        "the sandbox did not stamp the lines"
    for kept in ("starting app", "  password: |", "  user: bob", "  api_token:", "  port: 5432",
                 "pgp done", "ready"):
        assert any(line.endswith(" " + kept) for line in lines), f"{kept!r} did not come through"
    assert whole.count("kgate:masked:") >= 4

    # cut inside each block: the stamped stream is longer, so spread the cuts over all of it
    size = len(whole.encode())
    for cut in range(200, size, max(1, size // 60)):
        out = kubectl("logs", "multiline", "--timestamps", f"--limit-bytes={cut}",
                      kubeconfig=kc).stdout
        assert_no_leak(out, SECRETS, f"logs --timestamps --limit-bytes={cut}")
        _no_piece(out, f"logs --timestamps --limit-bytes={cut}")

    followed = _follow(kubectl_bin, kc, tmp_path, "--timestamps")
    assert_no_leak(followed, SECRETS, "logs -f --timestamps")
    _no_piece(followed, "logs -f --timestamps")
