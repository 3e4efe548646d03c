"""What kgate cannot inspect or mask does not go through, and the agent is told why."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import orjson
import pytest

from kgate.proxy.attributes import RequestAttributes, parse_request
from kgate.proxy.errors import Refusal
from kgate.proxy.stages.body import inspect_body
from kgate.proxy.stages.masking import EngineMasker, passes_unmasked
from tests.fixtures.kube import KubectlRunner
from tests.fixtures.proxy import Proxied, start_proxy_thread

# A body real kubectl 1.32 sent for `create secret generic demo-secret -n team-a …`.
PROTOBUF_SECRET = (Path(__file__).parents[1] / "sandbox" / "data"
                   / "secret-generic.pb").read_bytes()


@pytest.mark.parametrize(("path", "allowed"), [
    ("/version", True), ("/api", True), ("/api/v1", True), ("/apis", True),
    ("/apis/apps", True), ("/apis/apps/v1", True), ("/openapi/v3", True),
    ("/openapi/v3/apis/apps/v1", True), ("/openapi/v2", True), ("/healthz", True),
    ("/readyz/etcd", True), ("/.well-known/openid-configuration", True),
    ("/logs", False), ("/logs/kube-apiserver.log", False), ("/metrics", False),
    ("/debug/pprof/heap", False), ("/configz", False), ("/", False),
])
def test_only_api_describing_nonresource_paths_pass_unmasked(path: str, allowed: bool) -> None:
    assert passes_unmasked(parse_request("GET", path)) is allowed


def test_resources_never_pass_unmasked() -> None:
    assert not passes_unmasked(parse_request("GET", "/api/v1/namespaces/a/secrets"))


def test_protobuf_body_names_its_object_without_a_schema() -> None:
    facts = inspect_body("application/vnd.kubernetes.protobuf", None, PROTOBUF_SECRET)
    assert (facts.api_version, facts.kind, facts.name, facts.namespace) == (
        "v1", "Secret", "demo-secret", "team-a")
    assert facts.sha256 == hashlib.sha256(PROTOBUF_SECRET).hexdigest()


@pytest.mark.parametrize("body", [b"k8s\x00\x0a\xff", b"not-protobuf", PROTOBUF_SECRET[:20]])
def test_unreadable_protobuf_is_refused(body: bytes) -> None:
    with pytest.raises(Refusal) as info:
        inspect_body("application/vnd.kubernetes.protobuf", None, body)
    assert info.value.code == 400 and "protobuf" in info.value.message


def test_json_yaml_and_patch_bodies() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}
    facts = inspect_body("application/json", None, orjson.dumps(obj))
    assert (facts.kind, facts.name, facts.namespace) == ("ConfigMap", "c", "n")
    applied = inspect_body("application/apply-patch+yaml", None,
                           b"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")
    assert (applied.kind, applied.name) == ("Secret", "s")
    patch = inspect_body("application/json-patch+json", None, b'[{"op":"remove","path":"/x"}]')
    assert patch.kind == "" and patch.size == 29
    assert inspect_body("", None, b"{}").media_type == "application/json"  # like kube-apiserver


@pytest.mark.parametrize(("ctype", "encoding", "body", "code"), [
    ("application/json", None, b'{"kind": ', 400),
    ("application/apply-patch+yaml", None, b"a: [", 400),
    ("text/plain", None, b"hello", 415),
    ("application/cbor", None, b"\xa0", 415),
    ("application/json", "gzip", b"\x1f\x8b", 415),
])
def test_uninspectable_bodies_are_refused(ctype: str, encoding: str | None, body: bytes,
                                          code: int) -> None:
    with pytest.raises(Refusal) as info:
        inspect_body(ctype, encoding, body)
    assert info.value.code == code


def test_kubectl_cannot_reach_unmaskable_paths(proxied: Proxied, kubectl: KubectlRunner) -> None:
    kc = proxied.kubeconfig
    for path in ("/logs/", "/metrics", "/debug/pprof/"):
        proc = kubectl("get", "--raw", path, kubeconfig=kc, check=False)
        assert proc.returncode != 0
        assert f"kgate: the non-resource path {path.rstrip('/')} is not forwarded" in proc.stderr
    assert '"minor"' in kubectl("get", "--raw", "/version", kubeconfig=kc).stdout
    assert "deployments" in kubectl("api-resources", kubeconfig=kc).stdout


def test_a_placeholder_write_back_names_the_fields(proxied: Proxied,
                                                   kubectl: KubectlRunner) -> None:
    kc = proxied.kubeconfig
    kubectl("create", "secret", "generic", "db", "--from-literal=password=hunter2",
            "--from-literal=user=app", kubeconfig=kc)
    shown = kubectl("get", "secret", "db", "-o", "json", kubeconfig=kc).stdout
    # Written back where they were read from, placeholders are restored (nothing changes) ...
    kubectl("replace", "-f", "-", input=shown, kubeconfig=kc)
    # ... swapped between keys, they are refused, field by field.
    doc = json.loads(shown)
    doc["data"]["password"], doc["data"]["user"] = doc["data"]["user"], doc["data"]["password"]
    proc = kubectl("replace", "-f", "-", input=json.dumps(doc), kubeconfig=kc, check=False)
    assert proc.returncode != 0
    assert 'The Secret "db" is invalid' in proc.stderr
    assert "* data.password: kgate: a masked placeholder cannot be written back" in proc.stderr
    assert "* data.user: kgate:" in proc.stderr
    stored = proxied.sandbox.run(lambda: proxied.sandbox.store.get("", "secrets", "default", "db"))
    assert stored["data"]["password"] == "aHVudGVyMg=="  # untouched


class _BuggyMasker(EngineMasker):
    """The real engine, except that masking a reply hits a bug quoting a secret value."""

    def mask_body(self, attrs: RequestAttributes, body: bytes) -> tuple[bytes, int]:
        raise RuntimeError("bug while handling hunter2")


def test_a_bug_fails_closed_with_a_status_and_a_quiet_log(
        proxied: Proxied, kubectl: KubectlRunner, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    kubectl("create", "secret", "generic", "db", "--from-literal=password=hunter2",
            kubeconfig=proxied.kubeconfig)
    thread, proxy, audit = start_proxy_thread(proxied.upstream_kubeconfig, proxied.home,
                                              masker=_BuggyMasker())
    try:
        kc = proxy.write_kubeconfig(tmp_path / "buggy" / "kubeconfig")
        with caplog.at_level(logging.ERROR, logger="kgate.proxy"):
            proc = kubectl("get", "secret", "db", "-o", "json", kubeconfig=kc, check=False)
    finally:
        thread.stop()
    assert proc.returncode != 0
    assert "(InternalError): kgate: internal error in kgate" in proc.stderr
    assert "aHVudGVyMg==" not in proc.stdout + proc.stderr
    logged = caplog.text
    assert "RuntimeError at test_fail_closed.py" in logged and "hunter2" not in logged
    assert any(e.status == 500 and e.decision == "error" for e in audit.exchanges)
