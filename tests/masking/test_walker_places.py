"""Every string is suspect: one test per place issue 7 found unwalked (class 4), sensitive keys
everywhere (class 5), known values in harmless fields (class 3), public certificates."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from kgate.proxy.masking import PLACEHOLDER_RE, Masker, MaskingSettings, harmless
from tests.attacks.leaks import assert_no_leak

from .conftest import KEY, b64, secret

PW = "Xq7-pl4nted-Pw-93kd"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLW5vdC1yZWFs"


def mask(masker: Masker, doc: Any) -> tuple[Any, bytes]:
    body = masker.mask_json(orjson.dumps(doc)).body
    return orjson.loads(body), body


def pod_spec(container: dict[str, Any]) -> dict[str, Any]:
    return {"containers": [{"name": "app", "image": "busybox:1.36", **container}]}


def test_token_request_status_token(masker: Masker) -> None:
    """Critical #2: ``kubectl create token`` must not hand out a working token."""
    doc = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
           "metadata": {"name": "default", "namespace": "dev"},
           "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600},
           "status": {"token": TOKEN, "expirationTimestamp": "2026-01-01T00:00:00Z"}}
    out, body = mask(masker, doc)
    assert PLACEHOLDER_RE.fullmatch(out["status"]["token"])
    assert out["status"]["expirationTimestamp"] == "2026-01-01T00:00:00Z"
    assert_no_leak(body, [TOKEN])


def test_controller_revision_data(masker: Masker) -> None:
    doc = {"kind": "ControllerRevision", "apiVersion": "apps/v1", "revision": 2,
           "metadata": {"name": "web-6d4f", "namespace": "dev"},
           "data": {"spec": {"template": {"$patch": "replace", "spec": pod_spec(
               {"env": [{"name": "DB_PASSWORD", "value": PW}]})}}}}
    out, body = mask(masker, doc)
    assert_no_leak(body, [PW])
    env = out["data"]["spec"]["template"]["spec"]["containers"][0]["env"][0]
    assert env["name"] == "DB_PASSWORD" and PLACEHOLDER_RE.fullmatch(env["value"])


@pytest.mark.parametrize("args", [
    ["--db-password", PW], ["--db-password=" + PW], ["-token", PW], ["--client-secret", PW],
])
def test_container_args_with_sensitive_flags(masker: Masker, args: list[str]) -> None:
    out, body = mask(masker, {"kind": "Pod", "metadata": {"name": "p", "namespace": "dev"},
                              "spec": pod_spec({"args": ["--port", "8080", *args]})})
    assert_no_leak(body, [PW])
    assert out["spec"]["containers"][0]["args"][:2] == ["--port", "8080"]


def test_probe_http_headers_and_exec_commands(masker: Masker) -> None:
    probe = {"httpGet": {"path": "/healthz", "port": 8080, "httpHeaders": [
        {"name": "Authorization", "value": f"Bearer {PW}"}]}}
    lifecycle = {"postStart": {"exec": {"command": ["sh", "-c",
                                                    f"curl -H 'X-Api-Token: {PW}' http://x"]}}}
    ready = {"exec": {"command": ["mysql", "--password", PW, "-e", "select 1"]}}
    out, body = mask(masker, {"kind": "Deployment", "metadata": {"name": "d", "namespace": "dev"},
                              "spec": {"template": {"spec": pod_spec({
                                  "livenessProbe": probe, "readinessProbe": ready,
                                  "lifecycle": lifecycle})}}})
    assert_no_leak(body, [PW])
    c = out["spec"]["template"]["spec"]["containers"][0]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["exec"]["command"][:2] == ["mysql", "--password"]


def test_termination_message(masker: Masker) -> None:
    doc = {"kind": "Pod", "metadata": {"name": "p", "namespace": "dev"}, "status": {
        "phase": "Failed", "containerStatuses": [{"name": "app", "state": {"terminated": {
            "exitCode": 1, "reason": "Error", "message": f"db login failed: password={PW}"}}}]}}
    out, body = mask(masker, doc)
    assert_no_leak(body, [PW])
    assert out["status"]["phase"] == "Failed"


def test_cronjob_job_template_metadata(masker: Masker) -> None:
    doc = {"kind": "CronJob", "metadata": {"name": "c", "namespace": "dev"}, "spec": {
        "schedule": "*/5 * * * *", "jobTemplate": {
            "metadata": {"annotations": {"backup/target": f"s3://AKIA:{PW}@bucket/x"},
                         "labels": {"api-token": PW}},
            "spec": {"template": {"spec": pod_spec({})}}}}}
    _, body = mask(masker, doc)
    assert_no_leak(body, [PW])


def test_storage_class_parameters(masker: Masker) -> None:
    doc = {"kind": "StorageClass", "apiVersion": "storage.k8s.io/v1",
           "metadata": {"name": "fast"}, "provisioner": "example.com/nfs",
           "parameters": {"server": "nfs.example.com", "password": PW, "adminSecret": PW}}
    out, body = mask(masker, doc)
    assert_no_leak(body, [PW])
    assert out["parameters"]["server"] == "nfs.example.com"


def test_event_reason_and_note(masker: Masker) -> None:
    doc = {"kind": "Event", "metadata": {"name": "e.1", "namespace": "dev"},
           "reason": f"token={PW}", "message": "ok", "type": "Warning",
           "involvedObject": {"kind": "Pod", "name": "p", "namespace": "dev"}}
    out, body = mask(masker, doc)
    assert_no_leak(body, [PW])
    assert out["type"] == "Warning"


def test_label_values_and_configmap_keys(masker: Masker) -> None:
    doc = {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "dev",
                                             "labels": {"db-password": PW, "app": "web"}},
           "data": {"DB_PASSWORD": PW, "MYSQL_PWD": PW, "REDIS_AUTH": PW, "mode": "prod",
                    f"password={PW}": "x", "nested.json": orjson.dumps(
                        {"db": {"password": PW}, "host": "db"}).decode()}}
    out, body = mask(masker, doc)
    assert_no_leak(body, [PW])
    assert out["metadata"]["labels"]["app"] == "web" and out["data"]["mode"] == "prod"
    assert orjson.loads(out["data"]["nested.json"])["host"] == "db"


def test_custom_resource_password_and_last_applied(masker: Masker) -> None:
    cr = {"apiVersion": "db.example.com/v1", "kind": "Database",
          "metadata": {"name": "orders", "namespace": "dev"},
          "spec": {"engine": "postgres", "password": PW, "auth": {"rootPassword": PW}}}
    applied = orjson.dumps(cr).decode()
    doc = {**cr, "metadata": {**cr["metadata"], "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": applied,
        "double-encoded": orjson.dumps(applied).decode()}}}
    out, body = mask(masker, doc)
    assert_no_leak(body, [PW])
    assert out["spec"]["engine"] == "postgres"


def test_last_applied_holding_a_json_string(masker: Masker) -> None:
    inner = orjson.dumps({"kind": "Secret", "stringData": {"password": PW}}).decode()
    doc = {"kind": "Widget", "metadata": {"name": "w", "namespace": "dev", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": orjson.dumps(inner).decode()}}}
    _, body = mask(masker, doc)
    assert_no_leak(body, [PW])


def test_status_message_and_details(masker: Masker) -> None:
    doc = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Invalid",
           "message": f'Secret "x" is invalid: metadata.name: Invalid value: "password={PW}"',
           "details": {"name": f"token={PW}", "causes": [
               {"field": "metadata.name", "message": f"Invalid value: password={PW}"}]}}
    _, body = mask(masker, doc)
    assert_no_leak(body, [PW])


# -- known values wherever they are, harmless fields included -------------------------------

def test_secret_copied_into_a_name_in_the_same_reply(masker: Masker) -> None:
    """A dry-run that copied Secret data into metadata.name and a label: the Secret is learned
    first, so the rest of the reply is checked with its values."""
    value = "k8sC0pied-Value-77x"
    copied = {"kind": "ConfigMap", "metadata": {"name": value, "namespace": "dev",
                                                "labels": {"x": value}, "uid": value},
              "data": {"ok": "fine"}}
    lst = {"kind": "List", "items": [copied, secret("db", {"password": value})]}
    _, body = mask(masker, lst)
    assert_no_leak(body, [value])


def test_known_value_in_later_reply_and_in_keys(masker: Masker) -> None:
    value = "Later-Known-Pw-5521"
    mask(masker, secret("db", {"password": value}))
    doc = {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "dev",
                                             "annotations": {value: "v"}},
           "data": {"note": f"the value is {value} ok"}}
    _, body = mask(masker, doc)
    assert_no_leak(body, [value])
    # the base64 text of the Secret value, copied verbatim (JSON patch copy of /data/password)
    doc2 = {"kind": "ConfigMap", "metadata": {"name": "c2", "namespace": "dev",
                                              "labels": {"copy": b64(value)}}}
    _, body2 = mask(masker, doc2)
    assert_no_leak(body2, [value])


def test_known_values_in_managed_fields(masker: Masker) -> None:
    value = "Managed-Known-Pw-881"
    mask(masker, secret("db", {"password": value}))
    doc = {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "dev", "managedFields": [
        {"manager": "kubectl", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {f"f:{value}": {}}, "f:finalizers": {f'v:"{value}"': {}}}}]}}
    _, body = mask(masker, doc)
    assert_no_leak(body, [value])


def test_harmless_fields_are_not_garbled(masker: Masker) -> None:
    doc = {"kind": "Pod", "apiVersion": "v1", "metadata": {
        "name": "token-refresher-7d9f", "namespace": "secret-store", "uid": "u-1",
        "generateName": "password-reset-", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "token-refresher",
             "uid": "1"}]},
        "spec": pod_spec({"image": "ghcr.io/x/password-manager:1.0"}),
        "status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "reason": "TokenRefreshed"}]}}
    out, _ = mask(masker, doc)
    assert out == doc


def test_harmless_list_is_documented() -> None:
    assert "name" in harmless.META and "uid" in harmless.META
    assert "reason" in harmless.CONDITION and "reason" not in harmless.ANYWHERE
    assert "managedFields" in harmless.SUBTREES


# -- Secret data: valid base64, public certificates -----------------------------------------

CERT = ("-----BEGIN CERTIFICATE-----\n"
        + base64.encodebytes(b"\x30\x82\x01\x0a" + bytes(range(200))).decode()
        + "-----END CERTIFICATE-----\n")
KEY_PEM = ("-----BEGIN PRIVATE KEY-----\n"
           + base64.encodebytes(b"\x30\x82\x01\x0a" + bytes(range(120))).decode()
           + "-----END PRIVATE KEY-----\n")


def test_certificates_visible_keys_masked(masker: Masker) -> None:
    doc = secret("tls", {"tls.crt": CERT, "ca.crt": CERT + CERT, "tls.key": KEY_PEM,
                         "bundle.pem": CERT + KEY_PEM, "fake.crt": "-----BEGIN CERTIFICATE---"
                         "--\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"})
    out, _ = mask(masker, doc)
    data = out["data"]
    assert base64.b64decode(data["tls.crt"]).decode() == CERT
    assert base64.b64decode(data["ca.crt"]).decode() == CERT + CERT
    for key in ("tls.key", "bundle.pem", "fake.crt"):
        assert PLACEHOLDER_RE.fullmatch(base64.b64decode(data[key]).decode()), key


def test_show_certificates_off() -> None:
    m = Masker(MaskingSettings(show_certificates=False), KEY)
    out, _ = mask(m, secret("tls", {"tls.crt": CERT}))
    assert PLACEHOLDER_RE.fullmatch(base64.b64decode(out["data"]["tls.crt"]).decode())


def test_show_certificates_from_policy() -> None:
    assert MaskingSettings.from_policy({"showCertificates": False}).show_certificates is False
    assert MaskingSettings.from_policy(None).show_certificates is True
    with pytest.raises(ValueError, match="showCertificates"):
        MaskingSettings.from_policy({"showCertificates": "yes"})


def test_secret_data_keys_kept_equal_values_equal_placeholders(masker: Masker) -> None:
    out, _ = mask(masker, secret("db", {"a": PW, "b": PW, "c": "other-Value-123"}))
    data = out["data"]
    assert set(data) == {"a", "b", "c"}
    assert data["a"] == data["b"] != data["c"]
    assert PLACEHOLDER_RE.fullmatch(base64.b64decode(data["a"], validate=True).decode())


def test_big_list_goes_through_the_same_walk(masker: Masker) -> None:
    """Over 1 MB the List is masked item by item; the places are the same."""
    value = "Bulk-Copied-Value-9911"
    items: list[Any] = [{"metadata": {"name": f"c{i}", "namespace": "dev",
                                      "labels": {"pad": "x" * 60}},
                         "data": {"k": "v" * 200}} for i in range(6000)]
    items.append({"metadata": {"name": value, "namespace": "dev"}, "data": {"DB_PASSWORD": PW}})
    items.append({"kind": "Secret", "metadata": {"name": "s", "namespace": "dev"},
                  "type": "Opaque", "data": {"password": b64(value)}})
    body = orjson.dumps({"kind": "List", "metadata": {"resourceVersion": "1"}, "items": items})
    assert len(body) > 1024 * 1024
    out = masker.mask_json(body).body
    assert_no_leak(out, [value, PW])
