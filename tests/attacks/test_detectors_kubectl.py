"""Issue 7, class 6 end to end: every free-text form, planted, read back with real kubectl.

A ConfigMap holds one example of every form in ``tests/masking/test_detectors_forms.FORMS``
(applied client-side, so its last-applied annotation holds them all again) and a pod's log
prints the single-line ones. Real kubectl 1.32 reads them through the proxy with ``-o yaml``,
``-o json``, ``describe`` and ``logs``; no planted value may appear in any byte kubectl printed
— raw, JSON- or percent-escaped, hex, or base64/base64url at any alignment — and what is not
secret (the ConfigMap's keys, plain values) comes through. Failure messages name forms and
commands, never values.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
import yaml

from kgate.sandbox.runner import ADMIN_TOKEN, ADMIN_USER, SandboxOptions, sandbox_in_thread
from tests.fixtures.kube import kubectl_env
from tests.fixtures.proxy import BROKER_USER, start_proxy_thread
from tests.masking.test_detectors_forms import FORMS

pytestmark = pytest.mark.timeout(120)

NAMESPACE = "default"
PLAIN = {"plain-mode": "production", "plain-image": "registry.example.com/app:1.4.2",
         "plain-url": "https://git.example.com/org/repo.git", "plain-count": "max_tokens: 2048"}
LOG_FORMS = [(form, text.strip(), s) for form, text, s in FORMS if "\n" not in text.strip()]


def _key(i: int) -> str:
    return f"form-{i:02d}"


def _manifest() -> str:
    data = {_key(i): text for i, (_form, text, _s) in enumerate(FORMS)}
    log = "".join(f"2026-01-01T00:00:{i % 60:02d}Z INFO {text}\n"
                  for i, (_f, text, _s) in enumerate(LOG_FORMS))
    docs = [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "forms", "namespace": NAMESPACE},
         "data": {**data, **PLAIN}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "forms-log", "namespace": NAMESPACE,
                      "annotations": {"sandbox.kgate.dev/log": log}},
         "spec": {"containers": [{"name": "app", "image": "example/forms:0.1"}]}},
    ]
    return yaml.safe_dump_all(docs, sort_keys=False)


def _forms_of(secret: str) -> list[tuple[str, bytes]]:
    """Every encoding a value could leak in: raw, JSON-escaped, base64 at each alignment."""
    raw = secret.encode()
    out = [("raw", raw), ("json-escaped", orjson.dumps(secret)[1:-1]),
           ("hex", raw.hex().encode()), ("percent", quote(secret, safe="").encode())]
    for name, enc in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
        out.append((name, enc(raw).rstrip(b"=")))
        for shift in (1, 2):
            inner = enc(b"\0" * shift + raw)[4:-4]
            if len(inner) >= 8:
                out.append((f"{name}@{shift}", inner))
    return out


NEEDLES = [(form, enc, needle) for form, _text, s in FORMS for enc, needle in _forms_of(s)]


def leaks(data: bytes) -> list[str]:
    """Which forms (and encodings) leaked into ``data`` — never the values themselves."""
    return sorted({f"{form} ({enc})" for form, enc, needle in NEEDLES if needle in data})


@dataclass(repr=False)
class Output:
    """What one kubectl command printed (no repr: it may hold a planted value)."""

    returncode: int
    stdout: bytes
    stderr: bytes

    def __repr__(self) -> str:
        return f"<Output rc={self.returncode} {len(self.stdout)} bytes>"


def _kubectl(kubectl: str, kubeconfig: Path, *args: str, input: bytes | None = None) -> Output:
    proc = subprocess.run([kubectl, *args], input=input, capture_output=True, check=False,
                          env=kubectl_env(kubeconfig, kubeconfig.parent), timeout=30)
    return Output(proc.returncode, proc.stdout, proc.stderr)


COMMANDS = {
    "get -o yaml": ("get", "configmap", "forms", "-o", "yaml"),
    "get -o json": ("get", "configmap", "forms", "-o", "json"),
    "describe": ("describe", "configmap", "forms"),
    "get all -o json": ("get", "configmaps,pods", "-o", "json"),
    "logs": ("logs", "forms-log"),
    "get pod -o yaml": ("get", "pod", "forms-log", "-o", "yaml"),
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory, kubectl_bin: str
            ) -> Iterator[dict[str, Output]]:
    root = tmp_path_factory.mktemp("forms")
    broker = "broker-" + secrets.token_urlsafe(16)
    options = SandboxOptions(state_dir=root / "sandbox",
                             tokens={broker: BROKER_USER, ADMIN_TOKEN: ADMIN_USER})
    with sandbox_in_thread(options) as sandbox:
        admin = sandbox.write_kubeconfig(root / "admin" / "kubeconfig")
        (root / "forms.yaml").write_text(_manifest())
        seeded = _kubectl(kubectl_bin, admin, "apply", "-f", str(root / "forms.yaml"))
        if seeded.returncode != 0:
            pytest.fail(f"seeding failed: {seeded.stderr[-300:]!r}", pytrace=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pod = sandbox.run(lambda: sandbox.store.get("", "pods", NAMESPACE, "forms-log"))
            if pod and (pod.get("status") or {}).get("phase") == "Running":
                break
            time.sleep(0.05)
        upstream = sandbox.write_kubeconfig(root / "user" / "config", token=broker)
        thread, proxy, _audit = start_proxy_thread(upstream, root / "kgate-home")
        try:
            agent = proxy.write_kubeconfig(root / "agent" / "kubeconfig")
            yield {label: _kubectl(kubectl_bin, agent, *args)
                   for label, args in COMMANDS.items()}
        finally:
            thread.stop()


def _check(ok: object, message: str) -> None:
    if not ok:
        pytest.fail(message, pytrace=False)


@pytest.mark.parametrize("label", sorted(COMMANDS))
def test_no_planted_value_reaches_the_agent(outputs: dict[str, Output], label: str) -> None:
    out = outputs[label]
    _check(out.returncode == 0, f"`{label}` failed (rc={out.returncode}); stderr withheld")
    hits = leaks(out.stdout + b"\n" + out.stderr)
    _check(not hits, f"`{label}` leaked: {hits}")


def test_every_form_was_planted_and_masked(outputs: dict[str, Output]) -> None:
    """The ConfigMap came back whole: every form's key is there and holds a placeholder."""
    doc = orjson.loads(outputs["get -o json"].stdout)
    data = doc["data"]
    missing = [form for i, (form, _t, _s) in enumerate(FORMS) if _key(i) not in data]
    _check(not missing, f"forms missing from the ConfigMap: {missing}")
    unmasked = [form for i, (form, _t, _s) in enumerate(FORMS)
                if "kgate:masked:" not in data[_key(i)]]
    _check(not unmasked, f"forms without a placeholder: {unmasked}")


def test_plain_values_come_through(outputs: dict[str, Output]) -> None:
    data = orjson.loads(outputs["get -o json"].stdout)["data"]
    changed = [k for k, v in PLAIN.items() if data.get(k) != v]
    _check(not changed, f"plain values changed: {changed}")
    described = outputs["describe"].stdout
    _check(b"registry.example.com/app:1.4.2" in described, "describe lost a plain value")


def test_the_log_was_read(outputs: dict[str, Output]) -> None:
    logs = outputs["logs"].stdout
    _check(logs.count(b"\n") >= len(LOG_FORMS), "the pod log did not come back whole")
    _check(logs.count(b"kgate:masked:") >= len(LOG_FORMS), "some log lines were not masked")
