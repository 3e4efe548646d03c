"""Decoding real kubectl 1.32 protobuf bodies into the objects their JSON would give.

Each ``data/*.pb`` was recorded from ``kubectl create …`` (``data/capture.py``) and each
``data/*.json`` is the same command's ``--dry-run=client -o json``: the two must agree exactly.
``auth whoami``, ``auth can-i`` and ``create token`` have no client-side dry run: their bodies
(``selfsubjectreview``, ``ssar-*``, ``ssrr-*``, ``tokenrequest*``) were recorded the same way
against the sandbox (so discovery resolved ``deployments`` to group ``apps``), and their JSON is
what Go's ``encoding/json`` writes for the same struct (``null`` for nil slices and pointers
without ``omitempty``, ``"allowed": false``).
"""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from kgate.protojson import decode_object
from kgate.protowire import MAGIC

DATA = Path(__file__).resolve().parent / "data"
CAPTURES = sorted(p.stem for p in DATA.glob("*.pb"))


def _load(stem: str) -> tuple[bytes, dict]:
    return (DATA / f"{stem}.pb").read_bytes(), orjson.loads((DATA / f"{stem}.json").read_bytes())


def test_all_captures_are_present() -> None:
    assert {"secret-generic", "secret-tls", "secret-docker-registry", "configmap", "namespace",
            "serviceaccount", "deployment", "selfsubjectreview", "ssar-resource",
            "ssar-subresource", "ssar-nonresource", "ssar-named", "ssrr-list", "tokenrequest",
            "tokenrequest-audiences", "tokenrequest-bound", "job", "job-from-cronjob", "cronjob",
            "service-clusterip", "service-headless", "service-nodeport", "service-loadbalancer",
            "service-externalname", "role", "rolebinding", "clusterrole",
            "clusterrole-aggregated", "clusterrolebinding", "ingress", "pdb", "pdb-max",
            "priorityclass", "quota"} <= set(CAPTURES)


@pytest.mark.parametrize("stem", CAPTURES)
def test_capture_decodes_to_what_kubectl_json_would_send(stem: str) -> None:
    body, want = _load(stem)
    assert decode_object(body) == want


def test_secret_generic_field_by_field() -> None:
    obj = decode_object((DATA / "secret-generic.pb").read_bytes())
    assert obj["kind"] == "Secret" and obj["apiVersion"] == "v1"
    assert obj["metadata"] == {"name": "demo-secret", "namespace": "team-a",
                               "creationTimestamp": None}
    assert {k: base64.b64decode(v) for k, v in obj["data"].items()} == {
        "username": b"admin", "password": b"dummy-pass"}
    assert "type" not in obj


def test_secret_tls_and_docker_registry_types() -> None:
    tls = decode_object((DATA / "secret-tls.pb").read_bytes())
    assert tls["type"] == "kubernetes.io/tls"
    assert set(tls["data"]) == {"tls.crt", "tls.key"}
    assert base64.b64decode(tls["data"]["tls.crt"]).startswith(b"-----BEGIN CERTIFICATE-----")
    reg = decode_object((DATA / "secret-docker-registry.pb").read_bytes())
    assert reg["type"] == "kubernetes.io/dockerconfigjson"
    auths = orjson.loads(base64.b64decode(reg["data"][".dockerconfigjson"]))["auths"]
    assert auths["registry.example.com"]["username"] == "bob"


def test_configmap_namespace_serviceaccount() -> None:
    cm = decode_object((DATA / "configmap.pb").read_bytes())
    assert cm["data"] == {"mode": "fast", "greeting": "hello world"}
    ns = decode_object((DATA / "namespace.pb").read_bytes())
    assert ns["metadata"]["name"] == "demo-ns" and "namespace" not in ns["metadata"]
    assert ns["spec"] == {} and ns["status"] == {}
    sa = decode_object((DATA / "serviceaccount.pb").read_bytes())
    assert sa["kind"] == "ServiceAccount" and sa["metadata"]["namespace"] == "team-a"


def test_deployment_field_by_field() -> None:
    dep = decode_object((DATA / "deployment.pb").read_bytes())
    assert dep["apiVersion"] == "apps/v1"
    assert dep["metadata"]["labels"] == {"app": "demo-web"}
    spec = dep["spec"]
    assert spec["replicas"] == 3
    assert spec["selector"] == {"matchLabels": {"app": "demo-web"}}
    assert spec["template"]["metadata"]["labels"] == {"app": "demo-web"}
    (container,) = spec["template"]["spec"]["containers"]
    assert container == {"name": "nginx", "image": "nginx:1.27",
                         "ports": [{"containerPort": 8080}], "resources": {}}
    cmd = decode_object((DATA / "deployment-command.pb").read_bytes())
    assert cmd["spec"]["template"]["spec"]["containers"][0]["command"] == ["sleep", "3600"]
    multi = decode_object((DATA / "deployment-multi.pb").read_bytes())
    names = [c["name"] for c in multi["spec"]["template"]["spec"]["containers"]]
    assert names == ["busybox", "redis"]


# A small encoder, only to build bodies kubectl's `create` cannot produce (env, resources,
# volumes): the field numbers come from the decoder's schema, verified by the captures above.

def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _ld(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _vi(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _entry(number: int, key: str, value: bytes | str) -> bytes:
    return _ld(number, _ld(1, key) + _ld(2, value))


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return MAGIC + _ld(1, _ld(1, api_version) + _ld(2, kind)) + _ld(2, raw)


def test_deployment_env_resources_args_and_volumes() -> None:
    secret_ref = _ld(4, _ld(1, _ld(1, "db")) + _ld(2, "password"))
    cm_ref = _ld(3, _ld(1, _ld(1, "cfg")) + _ld(2, "mode") + _vi(3, 1))
    container = (
        _ld(1, "app") + _ld(2, "busybox") + _ld(4, "-c") + _ld(4, "echo hi")
        + _ld(7, _ld(1, "PLAIN") + _ld(2, "x"))
        + _ld(7, _ld(1, "DB_PASSWORD") + _ld(3, secret_ref))
        + _ld(7, _ld(1, "MODE") + _ld(3, cm_ref))
        + _ld(19, _ld(1, "CFG_") + _ld(2, _ld(1, _ld(1, "cfg"))))
        + _ld(8, _entry(1, "cpu", _ld(1, "500m")) + _entry(2, "memory", _ld(1, "64Mi")))
        + _ld(9, _ld(1, "creds") + _vi(2, 1) + _ld(3, "/etc/secret"))
        + _ld(6, _ld(1, "http") + _vi(3, 80) + _ld(4, "TCP"))
    )
    volumes = (_ld(1, _ld(1, "creds") + _ld(2, _ld(6, _ld(1, "db") + _vi(3, 0o400))))
               + _ld(1, _ld(1, "cfg") + _ld(2, _ld(19, _ld(1, _ld(1, "cfg"))))))
    strategy = _ld(1, "RollingUpdate") + _ld(2, _ld(1, _vi(1, 1) + _ld(3, "25%"))
                                             + _ld(2, _vi(1, 0) + _vi(2, 2)))
    spec = (_vi(1, 0) + _ld(2, _entry(1, "app", "a"))
            + _ld(3, _ld(1, _entry(11, "app", "a")) + _ld(2, volumes + _ld(2, container)))
            + _ld(4, strategy))
    meta = _ld(1, "a") + _ld(3, "ns") + _ld(8, _vi(1, 1700000000))
    obj = decode_object(_envelope("apps/v1", "Deployment", _ld(1, meta) + _ld(2, spec)))
    assert obj["metadata"] == {"name": "a", "namespace": "ns",
                               "creationTimestamp": "2023-11-14T22:13:20Z"}
    assert obj["spec"]["replicas"] == 0
    assert obj["spec"]["strategy"] == {"type": "RollingUpdate",
                                       "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 2}}
    pod = obj["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "creds", "secret": {"secretName": "db", "defaultMode": 0o400}},
        {"name": "cfg", "configMap": {"name": "cfg"}},
    ]
    (c,) = pod["containers"]
    assert c["args"] == ["-c", "echo hi"]
    assert c["env"] == [
        {"name": "PLAIN", "value": "x"},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode",
                                                           "optional": True}}},
    ]
    assert c["envFrom"] == [{"prefix": "CFG_", "configMapRef": {"name": "cfg"}}]
    assert c["resources"] == {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}}
    assert c["volumeMounts"] == [{"name": "creds", "readOnly": True, "mountPath": "/etc/secret"}]
    assert c["ports"] == [{"name": "http", "containerPort": 80, "protocol": "TCP"}]


def test_secret_string_data_and_immutable_false_kept() -> None:
    raw = _ld(1, _ld(1, "s")) + _entry(4, "k", "v") + _vi(5, 0) + _ld(3, "Opaque")
    obj = decode_object(_envelope("v1", "Secret", raw))
    assert obj["stringData"] == {"k": "v"} and obj["immutable"] is False
    assert obj["type"] == "Opaque"


@pytest.mark.parametrize(("body", "message"), [
    (_envelope("storage.k8s.io/v1", "StorageClass", _ld(1, _ld(1, "s"))), "no schema"),
    (_envelope("v1", "Secret", _ld(1, _ld(1, "s")) + _ld(9, "surprise")), "not supported"),
    (_envelope("v1", "Secret", _ld(1, _vi(1, 5))), "length-delimited"),
    (_envelope("v1", "Secret", _ld(2, b"\xff")), "truncated"),
    (MAGIC + _ld(1, _ld(1, "v1") + _ld(2, "Secret")) + _ld(2, b"") + _ld(3, "gzip"),
     "contentEncoding"),
    (b"{}", "magic"),
])
def test_refusals_are_value_errors(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_object(body)


def test_unknown_zero_fields_are_ignored() -> None:
    raw = _ld(1, _ld(1, "s") + _ld(15, b"")) + _vi(9, 0)
    assert decode_object(_envelope("v1", "Secret", raw))["metadata"] == {"name": "s"}


def test_auth_can_i_reviews_field_by_field() -> None:
    scale = decode_object((DATA / "ssar-subresource.pb").read_bytes())
    assert scale["apiVersion"] == "authorization.k8s.io/v1"
    assert scale["spec"] == {"resourceAttributes": {
        "namespace": "team-a", "verb": "create", "group": "apps", "resource": "deployments",
        "subresource": "scale"}}
    assert scale["status"] == {"allowed": False}
    url = decode_object((DATA / "ssar-nonresource.pb").read_bytes())
    assert url["spec"] == {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}
    rules = decode_object((DATA / "ssrr-list.pb").read_bytes())
    assert rules["spec"] == {"namespace": "team-a"}


def test_token_requests_keep_nulls_kubectl_leaves_to_the_server() -> None:
    plain = decode_object((DATA / "tokenrequest.pb").read_bytes())
    assert plain["spec"] == {"audiences": None, "expirationSeconds": None,
                             "boundObjectRef": None}
    custom = decode_object((DATA / "tokenrequest-audiences.pb").read_bytes())
    assert custom["spec"]["audiences"] == ["vault", "api"]
    assert custom["spec"]["expirationSeconds"] == 600


def test_self_subject_review_user_info_with_extra() -> None:
    extra = _ld(4, _ld(1, "scopes") + _ld(2, _ld(1, "read") + _ld(1, "write")))
    user = _ld(1, "alice") + _ld(2, "u-1") + _ld(3, "dev") + _ld(3, "ops") + extra
    obj = decode_object(_envelope("authentication.k8s.io/v1", "SelfSubjectReview",
                                  _ld(1, b"") + _ld(2, _ld(1, user))))
    assert obj["status"]["userInfo"] == {"username": "alice", "uid": "u-1",
                                         "groups": ["dev", "ops"],
                                         "extra": {"scopes": ["read", "write"]}}
