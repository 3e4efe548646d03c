"""Request bodies for the session log: masked like responses; protobuf only summarised."""

from __future__ import annotations

import hashlib
import json

import yaml

from kgate.proxy.masking import PLACEHOLDER_RE, Masker

from .conftest import b64, dumps, secret


def test_json_secret_create(masker: Masker) -> None:
    body = dumps(secret(data={"password": "logpw"}, string_data={"t": "logtok"}))
    logged, n = masker.mask_request_body_for_log(body, "application/json")
    assert isinstance(logged, dict) and n == 2
    assert "logpw" not in json.dumps(logged) and b64("logpw") not in json.dumps(logged)


def test_kindless_merge_patch_is_masked_conservatively(masker: Masker) -> None:
    body = dumps({"data": {"password": b64("patchpw")}})
    logged, n = masker.mask_request_body_for_log(body, "application/merge-patch+json")
    assert n == 1 and b64("patchpw") not in json.dumps(logged)


def test_configmap_patch_with_kind_hint_keeps_plain_values(masker: Masker) -> None:
    body = dumps({"data": {"port": "80", "conf": "password=cmpw"}})
    logged, n = masker.mask_request_body_for_log(
        body, "application/strategic-merge-patch+json", kind="ConfigMap")
    assert isinstance(logged, dict) and n == 1
    assert logged["data"]["port"] == "80" and "cmpw" not in logged["data"]["conf"]


def test_yaml_server_side_apply(masker: Masker) -> None:
    body = yaml.safe_dump(secret(string_data={"password": "ssapw"})).encode()
    logged, n = masker.mask_request_body_for_log(body, "application/apply-patch+yaml")
    assert isinstance(logged, dict) and n == 1
    assert PLACEHOLDER_RE.fullmatch(logged["stringData"]["password"])


def test_json_patch(masker: Masker) -> None:
    la = json.dumps(secret(string_data={"p": "lapw"}))
    body = dumps([
        {"op": "add", "path": "/data/password", "value": b64("jppw")},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/labels/app", "value": "web"},
        {"op": "add", "path": "/metadata/annotations/kubectl.kubernetes.io~1last-applied-"
                             "configuration", "value": la},
        {"op": "add", "path": "/stringData", "value": {"k": "sdpw"}},
        {"op": "remove", "path": "/data/old"},
    ])
    logged, n = masker.mask_request_body_for_log(body, "application/json-patch+json")
    assert isinstance(logged, str) and n == 3
    for s in ("jppw", "lapw", "sdpw"):
        assert s not in logged and b64(s) not in logged
    ops = json.loads(logged)
    assert ops[1]["value"] == 3 and ops[2]["value"] == "web"


def test_protobuf_is_summarised(masker: Masker) -> None:
    body = b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12\x07hunter2"
    logged, n = masker.mask_request_body_for_log(body, "application/vnd.kubernetes.protobuf")
    assert logged == {"protobuf": True, "sha256": hashlib.sha256(body).hexdigest(),
                      "bytes": len(body)}
    assert n == 0


def test_empty_and_unparseable(masker: Masker) -> None:
    assert masker.mask_request_body_for_log(b"", "application/json") == (None, 0)
    logged, n = masker.mask_request_body_for_log(b'{"password": "trunc', "application/json")
    assert isinstance(logged, dict) and logged["unparsed"] is True and "trunc" not in str(logged)
