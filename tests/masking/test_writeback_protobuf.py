"""Placeholders written back in protobuf bodies (kubectl 1.32's ``create job --from`` and
``debug --copy-to``): transcoded to JSON and restored at their own slot; refused elsewhere, and
refused whole when the body holds anything the schema does not know."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kgate.proxy.errors import BodyRefused
from kgate.proxy.stages.body import inspect_body
from kgate.proxy.stages.masking import EngineMasker
from tests.protowire.pb import envelope, ld, pod, vi

from .conftest import KEY
from .test_walker_writeback import PW, attrs, read
from .test_walker_writeback import pod as json_pod

PROTOBUF = "application/vnd.kubernetes.protobuf"


@pytest.fixture
def engine() -> EngineMasker:
    return EngineMasker(key=KEY)


def write(engine: EngineMasker, path: str, body: bytes) -> bytes | None:
    return engine.check(attrs("POST", path), PROTOBUF, body, inspect_body(PROTOBUF, None, body))


def shown_placeholder(engine: EngineMasker, ns: str = "dev") -> str:
    shown = read(engine, f"/api/v1/namespaces/{ns}/pods/web", json_pod("web", ns))
    ph: str = shown["spec"]["containers"][0]["env"][0]["value"]
    assert ph.startswith("kgate:masked:")
    return ph


def test_debug_copy_to_is_transcoded_and_restored(engine: EngineMasker) -> None:
    ph = shown_placeholder(engine)
    out = write(engine, "/api/v1/namespaces/dev/pods",
                pod("web-copy", "dev", {"DB_PASSWORD": ph, "MODE": "prod"}))
    assert out is not None
    sent: dict[str, Any] = orjson.loads(out)   # JSON now, not protobuf
    assert sent["kind"] == "Pod" and sent["metadata"]["name"] == "web-copy"
    assert sent["spec"]["containers"][0]["env"] == [
        {"name": "DB_PASSWORD", "value": PW}, {"name": "MODE", "value": "prod"}]


def test_job_from_cronjob_is_transcoded_and_restored(engine: EngineMasker) -> None:
    cj = read(engine, "/apis/batch/v1/namespaces/dev/cronjobs/nightly", {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "dev"},
        "spec": {"schedule": "@daily", "jobTemplate": {
            "metadata": {"annotations": {"note": f"password={PW}"}},
            "spec": {"template": {"spec": json_pod("x")["spec"]}}}}})
    note = cj["spec"]["jobTemplate"]["metadata"]["annotations"]["note"]
    ph = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"]
    assert PW not in note + ph
    container = ld(1, "app") + ld(2, "busybox") + ld(7, ld(1, "DB_PASSWORD") + ld(2, ph))
    template = ld(2, ld(2, container) + ld(3, "Never"))
    meta = ld(1, "manual") + ld(3, "dev") + ld(12, ld(1, "note") + ld(2, note))
    body = envelope("batch/v1", "Job", ld(1, meta) + ld(2, ld(6, template) + vi(7, 6)))
    out = write(engine, "/apis/batch/v1/namespaces/dev/jobs", body)
    assert out is not None
    sent = orjson.loads(out)
    assert sent["metadata"]["annotations"]["note"] == f"password={PW}"
    assert sent["spec"]["backoffLimit"] == 6
    assert sent["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == PW


def test_protobuf_without_placeholder_is_not_decoded(engine: EngineMasker) -> None:
    # a kind kgate has no schema for, with a field no schema knows: forwarded as it came
    body = envelope("example.com/v1", "Widget", ld(1, ld(1, "w")) + vi(99, 1))
    assert write(engine, "/apis/example.com/v1/namespaces/dev/widgets", body) is None


def test_placeholder_in_another_slot_is_refused(engine: EngineMasker) -> None:
    ph = shown_placeholder(engine)
    with pytest.raises(BodyRefused) as err:
        write(engine, "/api/v1/namespaces/dev/pods",
              pod("copy", "dev", {"MODE": "prod"}, annotations={"x": ph}))
    assert err.value.fields == ["metadata.annotations.x"]
    with pytest.raises(BodyRefused) as err:   # another env var of the same container
        write(engine, "/api/v1/namespaces/dev/pods", pod("copy", "dev", {"LEAK": ph}))
    assert err.value.fields == ["spec.containers[0].env[0].value"]


def test_placeholder_from_another_namespace_is_refused(engine: EngineMasker) -> None:
    ph = shown_placeholder(engine, "dev")
    with pytest.raises(BodyRefused):
        write(engine, "/api/v1/namespaces/prod/pods", pod("copy", "prod", {"DB_PASSWORD": ph}))


@pytest.mark.parametrize(("extra", "why"), [
    ({"spec_extra": vi(99, 1)}, "PodSpec field 99"),
    ({"spec_extra": vi(99, 0)}, "PodSpec field 99"),
    ({"container_extra": vi(2, 1)}, "wire type"),
])
def test_unknown_field_with_placeholder_is_refused_whole(engine: EngineMasker,
                                                         extra: dict[str, bytes],
                                                         why: str) -> None:
    ph = shown_placeholder(engine)
    body = pod("copy", "dev", {"DB_PASSWORD": ph}, **extra)
    with pytest.raises(BodyRefused) as err:
        write(engine, "/api/v1/namespaces/dev/pods", body)
    assert "cannot transcode" in str(err.value) and why in str(err.value)
    assert PW not in str(err.value)


def test_kind_without_schema_is_refused(engine: EngineMasker) -> None:
    ph = shown_placeholder(engine)
    body = envelope("example.com/v1", "Widget", ld(1, ld(1, "w") + ld(12, ld(1, "x") + ld(2, ph))))
    with pytest.raises(BodyRefused, match="no schema"):
        write(engine, "/apis/example.com/v1/namespaces/dev/widgets", body)


def test_placeholder_outside_the_decoded_fields_is_refused(engine: EngineMasker) -> None:
    # the envelope's contentType is not part of the object: a placeholder there is not
    # "restored", and the body is not forwarded with it either
    ph = shown_placeholder(engine)
    body = pod("copy", "dev", {"DB_PASSWORD": ph}) + ld(4, ph)
    with pytest.raises(BodyRefused, match="outside the decoded fields"):
        write(engine, "/api/v1/namespaces/dev/pods", body)
