"""The schema-less wire reader against real kubectl captures and against malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgate.protowire import MAGIC, iter_fields, peek_metadata, read_envelope
from tests.protowire.pb import ld as _ld
from tests.protowire.pb import varint as _varint

DATA = Path(__file__).resolve().parents[1] / "sandbox" / "data"


@pytest.mark.parametrize(("capture", "api_version", "kind", "name", "namespace"), [
    ("secret-generic.pb", "v1", "Secret", "demo-secret", "team-a"),
    ("secret-tls.pb", "v1", "Secret", "demo-tls", "team-a"),
    ("configmap.pb", "v1", "ConfigMap", "demo-config", "team-a"),
    ("namespace.pb", "v1", "Namespace", "demo-ns", ""),
    ("serviceaccount.pb", "v1", "ServiceAccount", "demo-sa", "team-a"),
    ("deployment.pb", "apps/v1", "Deployment", "demo-web", "team-a"),
])
def test_envelope_and_metadata_of_real_kubectl_bodies(capture: str, api_version: str, kind: str,
                                                      name: str, namespace: str) -> None:
    env = read_envelope((DATA / capture).read_bytes())
    assert (env.api_version, env.kind) == (api_version, kind)
    assert env.content_encoding == "" and env.content_type == ""
    ref = peek_metadata(env.raw)
    assert (ref.name, ref.namespace, ref.generate_name) == (name, namespace, "")


def test_labels_are_read_from_metadata() -> None:
    ref = peek_metadata(read_envelope((DATA / "deployment.pb").read_bytes()).raw)
    assert ref.labels == {"app": "demo-web"}
    assert ref.annotations == {}


def test_generate_name_and_annotations() -> None:
    entry = _ld(1, b"note") + _ld(2, b"hello")
    meta = _ld(2, b"job-") + _ld(3, b"ns1") + _ld(12, entry)
    body = MAGIC + _ld(1, _ld(1, b"v1") + _ld(2, b"Pod")) + _ld(2, _ld(1, meta))
    ref = peek_metadata(read_envelope(body).raw)
    assert (ref.name, ref.generate_name, ref.namespace) == ("", "job-", "ns1")
    assert ref.annotations == {"note": "hello"}


def test_iter_fields_yields_every_wire_type() -> None:
    buf = (_varint(1 << 3) + _varint(300) + _ld(2, b"abc")
           + _varint(3 << 3 | 1) + (7).to_bytes(8, "little")
           + _varint(4 << 3 | 5) + (9).to_bytes(4, "little"))
    got = [(n, w, v if isinstance(v, int) else bytes(v)) for n, w, v in iter_fields(buf)]
    assert got == [(1, 0, 300), (2, 2, b"abc"), (3, 1, 7), (4, 5, 9)]


GOOD = (DATA / "secret-generic.pb").read_bytes()


@pytest.mark.parametrize("body", [
    b"",
    b"k8s",
    b"k9s\x00" + GOOD[4:],
    b"\x00" + GOOD,
    GOOD[:-1],                                # truncated inside the object
    GOOD[:10],                                # truncated inside TypeMeta
    MAGIC + b"\x0a\xff",                      # truncated length varint
    MAGIC + b"\x0a" + b"\xff" * 11,           # varint longer than 10 bytes
    MAGIC + b"\x0a\x7f" + b"x" * 5,           # length runs past the end
    MAGIC + b"\x12\x02\x0a\xff",              # raw object's metadata runs past its end
    MAGIC + b"\x0b\x00",                      # group wire type
    MAGIC + b"\x00\x01",                      # field number 0
    MAGIC + _ld(1, _ld(1, b"v1")),            # no raw object at all
    MAGIC + _ld(1, _ld(2, b"\xff\xfe")) + _ld(2, b""),  # kind not UTF-8
])
def test_malformed_bodies_raise_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        env = read_envelope(body)
        peek_metadata(env.raw)


def test_fixed_width_fields_truncated() -> None:
    for body in (_varint(1 << 3 | 1) + b"\x00" * 7, _varint(1 << 3 | 5) + b"\x00" * 3):
        with pytest.raises(ValueError):
            list(iter_fields(body))


def test_metadata_with_wrong_wire_type_raises() -> None:
    with pytest.raises(ValueError):
        peek_metadata(_varint(1 << 3) + _varint(5))
    with pytest.raises(ValueError):
        peek_metadata(_ld(1, _varint(1 << 3) + _varint(5)))


def test_object_without_metadata_gives_empty_ref() -> None:
    assert peek_metadata(b"").name == ""
