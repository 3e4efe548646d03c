"""Writing a placeholder back is detected in every body format kubectl sends (→ 422)."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from kgate.proxy.masking import Masker
from kgate.proxy.masking.roundtrip import BASE64_NEEDLES

from .conftest import dumps


@pytest.fixture
def ph(masker: Masker) -> str:
    return masker.placeholder("hunter2")


def test_needles_cover_every_alignment(ph: str) -> None:
    for shift in range(3):
        for fill in (b"", b"a", b"ab", b"\x00\xff"):
            for tail in (b"", b"x", b"xyz\n"):
                encoded = base64.b64encode(fill[:shift] + ph.encode() + tail)
                assert any(n in encoded for n in BASE64_NEEDLES), (shift, fill, tail)


def test_json_secret_with_base64_placeholder(masker: Masker, ph: str) -> None:
    body = dumps({"kind": "Secret", "data": {
        "a": base64.b64encode(ph.encode()).decode(),
        "b": base64.b64encode(b"x" + ph.encode()).decode(),
        "c": base64.b64encode(b"xy" + ph.encode() + b"\n").decode(),
    }})
    assert masker.check_request_body(body, "application/json") == 3


def test_raw_placeholder_in_string_data(masker: Masker, ph: str) -> None:
    body = dumps({"kind": "Secret", "stringData": {"password": ph}})
    assert masker.check_request_body(body, "application/json") == 1


def test_yaml_apply_patch(masker: Masker, ph: str) -> None:
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
           "data": {"password": base64.b64encode(ph.encode()).decode()},
           "stringData": {"other": f"prefix {ph} suffix"}}
    body = yaml.safe_dump(doc).encode()
    assert masker.check_request_body(body, "application/apply-patch+yaml") == 2


def test_wrapped_base64_in_yaml(masker: Masker, ph: str) -> None:
    encoded = base64.b64encode(b"0123456789" * 5 + ph.encode()).decode()
    wrapped = "\n    ".join(encoded[i:i + 20] for i in range(0, len(encoded), 20))
    body = f"data:\n  blob: >-\n    {wrapped}\n".encode()
    assert masker.check_request_body(body, "application/apply-patch+yaml") == 1


@pytest.mark.parametrize("content_type", [
    "application/json-patch+json", "application/merge-patch+json",
    "application/strategic-merge-patch+json",
])
def test_patches(masker: Masker, ph: str, content_type: str) -> None:
    if content_type == "application/json-patch+json":
        body = dumps([{"op": "replace", "path": "/data/password",
                       "value": base64.b64encode(ph.encode()).decode()}])
    else:
        body = dumps({"data": {"password": base64.b64encode(ph.encode()).decode()}})
    assert masker.check_request_body(body, content_type) == 1


def test_protobuf_bytes(masker: Masker, ph: str) -> None:
    # k8s\0 envelope with the placeholder as raw bytes of a Secret data value
    body = b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12\x20\x0a\x02db\x12" + bytes(
        [len(ph)]) + ph.encode() + b"\x1a\x00"
    assert masker.check_request_body(body, "application/vnd.kubernetes.protobuf") == 1


def test_json_unicode_escaped_prefix(masker: Masker, ph: str) -> None:
    escaped = ph.replace(":", "\\u003a")
    body = ('{"stringData": {"p": "' + escaped + '"}}').encode()
    assert b"kgate:masked:" not in body and json.loads(body)["stringData"]["p"] == ph
    assert masker.check_request_body(body, "application/json") >= 1


@pytest.mark.parametrize("body", [
    b"",
    dumps({"kind": "Secret", "data": {"password": base64.b64encode(b"hunter2").decode()}}),
    dumps({"kind": "ConfigMap", "data": {"note": "kgate masks secrets"}}),
    b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12\x04\x0a\x02db",
])
def test_clean_bodies(masker: Masker, body: bytes) -> None:
    assert masker.check_request_body(body, "application/json") == 0


def test_masked_response_cannot_be_written_back(masker: Masker) -> None:
    from .conftest import secret
    masked = masker.mask_json(dumps(secret(data={"a": "1", "b": "2"},
                                           string_data={"c": "3"}))).body
    assert masker.check_request_body(masked, "application/json") == 3
