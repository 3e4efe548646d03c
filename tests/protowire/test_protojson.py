"""Schema decoding of protobuf bodies (``kgate.protojson``): what the proxy transcodes to JSON.

Strict mode is what the proxy uses before restoring placeholders: anything the schema does not
know must stop the transcoding, never be dropped from the JSON that goes upstream.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kgate.protojson import MAX_DEPTH, MAX_FIELDS, decode_message, decode_object, has_schema
from tests.protowire.pb import envelope, ld, pod, vi

DATA = Path(__file__).resolve().parents[1] / "sandbox" / "data"


def test_a_pod_decodes_to_the_json_kubectl_would_send() -> None:
    body = pod("web", "dev", {"DB_PASSWORD": "pw", "MODE": ""}, annotations={"a": "b"},
               spec_extra=vi(30, 0) + ld(3, "Never"))
    assert decode_object(body, strict=True) == {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "dev", "annotations": {"a": "b"}},
        "spec": {"containers": [{"name": "app", "image": "busybox:1.36",
                                 "env": [{"name": "DB_PASSWORD", "value": "pw"},
                                         {"name": "MODE"}]}],
                 # a pointer field keeps its zero: enableServiceLinks false is not "default"
                 "enableServiceLinks": False, "restartPolicy": "Never"}}


def test_probes_lifecycle_and_security_context_are_known() -> None:
    probe = ld(1, ld(2, ld(1, "/healthz") + ld(2, vi(1, 0) + vi(2, 8080))
                     + ld(5, ld(1, "Authorization") + ld(2, "Bearer x")))) + vi(6, 3)
    lifecycle = ld(2, ld(1, ld(1, "sh") + ld(1, "-c")))
    body = pod("web", "dev", {}, container_extra=ld(10, probe) + ld(12, lifecycle)
               + ld(15, vi(2, 0)))
    c = decode_object(body, strict=True)["spec"]["containers"][0]
    assert c["livenessProbe"] == {"httpGet": {"path": "/healthz", "port": 8080, "httpHeaders": [
        {"name": "Authorization", "value": "Bearer x"}]}, "failureThreshold": 3}
    assert c["lifecycle"] == {"preStop": {"exec": {"command": ["sh", "-c"]}}}
    assert c["securityContext"] == {"privileged": False}


@pytest.mark.parametrize("capture", sorted(p.stem for p in DATA.glob("*.pb")))
def test_every_real_kubectl_capture_decodes_strictly(capture: str) -> None:
    body = (DATA / f"{capture}.pb").read_bytes()
    assert decode_object(body, strict=True) == decode_object(body)


@pytest.mark.parametrize(("body", "message"), [
    (pod("w", "d", {}, spec_extra=vi(99, 1)), "PodSpec field 99"),
    (pod("w", "d", {}, spec_extra=vi(99, 0)), "PodSpec field 99"),        # even a zero
    (pod("w", "d", {}, container_extra=vi(99, 0)), "Container field 99"),
    (pod("w", "d", {}, container_extra=vi(2, 7)), "wire type"),           # image as a varint
    (pod("w", "d", {}, spec_extra=ld(30, b"\x01")), "wire type"),         # a bool as bytes
    (pod("w", "d", {}, spec_extra=b"\x1a\x05ab"), "past the end"),        # length too long
    (pod("w", "d", {}, spec_extra=b"\xf8"), "truncated"),                 # half a key
    (envelope("v1", "Pod", b"") + vi(9, 1), "envelope field 9"),
    (envelope("v1", "Widget", b""), "no schema"),
    (envelope("v1", "Pod", ld(1, ld(12, ld(1, "k") + ld(3, "x")))), "map entry field 3"),
])
def test_strict_refuses_what_it_does_not_know(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_object(body, strict=True)


def test_lenient_ignores_only_zero_unknown_fields() -> None:
    assert decode_object(pod("w", "d", {}, spec_extra=vi(99, 0)))["spec"]["containers"]
    with pytest.raises(ValueError, match="PodSpec field 99"):
        decode_object(pod("w", "d", {}, spec_extra=vi(99, 1)))


def test_nesting_is_bounded() -> None:
    # The schema has no cycle, so no body can nest deeper than its deepest path; the guard
    # holds even if a recursive message is ever added. The deepest real path fits.
    with pytest.raises(ValueError, match="nested too deeply"):
        decode_message(b"", "Pod", strict=True, depth=MAX_DEPTH)
    term = ld(1, ld(1, ld(1, "k") + ld(2, "v"))) + ld(3, "zone")        # PodAffinityTerm
    affinity = ld(2, ld(1, term))                                       # podAffinity.required
    template = ld(2, ld(18, affinity) + ld(2, ld(1, "c")))              # PodTemplateSpec.spec
    job_template = ld(2, ld(6, template))                               # JobTemplateSpec.spec
    body = envelope("batch/v1", "CronJob", ld(2, ld(1, "@daily") + ld(5, job_template)))
    spec = decode_object(body, strict=True)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert spec["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == [
        {"labelSelector": {"matchLabels": {"k": "v"}}, "topologyKey": "zone"}]


def test_has_schema_for_the_workload_kinds() -> None:
    for api_version, kind in (("v1", "Pod"), ("batch/v1", "Job"), ("batch/v1", "CronJob"),
                              ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet")):
        assert has_schema(api_version, kind)
    assert not has_schema("v1", "Widget")


def test_field_count_is_bounded() -> None:
    # tiny empty messages: two bytes each, a dict each once decoded
    many = ld(2, ld(2, ld(1, "c") + ld(9, b"") * (MAX_FIELDS + 1)))
    with pytest.raises(ValueError, match="fields in one object"):
        decode_object(envelope("v1", "Pod", many), strict=True)
