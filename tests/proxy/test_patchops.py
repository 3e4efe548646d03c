"""The no-secret-copy guardrail: JSON-patch operations that read on the server, judged through
the same facts and evaluation as every other refusal (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from kgate.policy import evaluate, guardrails_only
from kgate.proxy.attributes import parse_request
from kgate.proxy.errors import Refusal
from kgate.proxy.facts import gather_facts
from kgate.proxy.stages.body import BodyFacts
from kgate.proxy.stages.patchops import JSON_PATCH, RULE, parse_pointer
from kgate.proxy.stages.policy import refusal_for

SECRET = parse_request("PATCH", "/api/v1/namespaces/a/secrets/db")
DEPLOY = parse_request("PATCH", "/apis/apps/v1/namespaces/a/deployments/web")
CM = parse_request("PATCH", "/api/v1/namespaces/a/configmaps/app")


def refusal(attrs: Any, ops: Any, media: str = JSON_PATCH) -> Refusal | None:
    inspected = BodyFacts(media, "0" * 64, 2, document=ops)
    decision = evaluate(guardrails_only(), gather_facts(attrs, (), b"[]", inspected, media))
    return refusal_for(decision) if decision.action == "deny" else None


def refused(attrs: Any, ops: Any, media: str = JSON_PATCH) -> bool:
    found = refusal(attrs, ops, media)
    if found is None:
        return False
    assert found.code == 403 and found.rule == RULE
    assert found.message.startswith(f"kgate: denied by rule {RULE}:")
    return True


@pytest.mark.parametrize(("attrs", "op"), [
    (SECRET, {"op": "copy", "from": "/data/password", "path": "/metadata/annotations/x"}),
    (SECRET, {"op": "move", "from": "/data/password", "path": "/metadata/name"}),
    (SECRET, {"op": "copy", "from": "/data", "path": "/metadata/labels"}),
    (SECRET, {"op": "copy", "from": "/stringData/p", "path": "/type"}),
    (SECRET, {"op": "copy", "from": "", "path": "/metadata/annotations/all"}),
    (SECRET, {"op": "test", "path": "/data/password", "value": "Z3Vlc3M="}),
    (SECRET, {"op": "test", "path": "/data", "value": {"password": "Z3Vlc3M="}}),
    (SECRET, {"op": "test", "path": "", "value": {}}),
    (SECRET, {"op": "TEST", "path": "/data/password", "value": "x"}),
    (DEPLOY, {"op": "copy", "from": "/spec/template/spec/containers/0/env/0/value",
              "path": "/metadata/labels/x"}),
    (DEPLOY, {"op": "copy", "from": "/metadata/annotations/"
                                    "kubectl.kubernetes.io~1last-applied-configuration",
              "path": "/metadata/labels/x"}),
    (DEPLOY, {"op": "copy", "from": "/metadata", "path": "/spec/template/metadata"}),
    (DEPLOY, {"op": "copy", "from": "/spec/template/spec/containers/0/livenessProbe/httpGet/"
                                    "httpHeaders/0/value", "path": "/metadata/name"}),
    (DEPLOY, {"op": "test", "path": "/spec/template/spec/containers/0/args/1",
              "value": "hunter2"}),
    (CM, {"op": "copy", "from": "/data/DB_PASSWORD", "path": "/metadata/labels/x"}),
    (CM, {"op": "move", "from": "/data", "path": "/metadata/annotations"}),
    (CM, {"op": "test", "path": "/data/config.ini", "value": "password = guess\n"}),
    (CM, {"op": "copy", "from": "data/x", "path": "/metadata/name"}),   # not a pointer
    (CM, {"op": "copy", "from": 3, "path": "/metadata/name"}),
    (CM, {"op": "copy", "path": "/metadata/name"}),                      # no from at all
])
def test_reads_of_anything_not_harmless_are_refused(attrs: Any, op: dict[str, Any]) -> None:
    assert refused(attrs, [{"op": "add", "path": "/metadata/labels/a", "value": "b"}, op])


@pytest.mark.parametrize(("attrs", "ops"), [
    (SECRET, [{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
              {"op": "replace", "path": "/data/password", "value": "bmV3"}]),
    (SECRET, [{"op": "add", "path": "/metadata/labels/x", "value": "y"},
              {"op": "remove", "path": "/data/old"}]),
    (DEPLOY, [{"op": "copy", "from": "/spec/template/spec/containers/0/image",
               "path": "/spec/template/spec/containers/1/image"}]),
    (DEPLOY, [{"op": "test", "path": "/spec/replicas", "value": 3},
              {"op": "move", "from": "/metadata/name", "path": "/metadata/labels/name"}]),
    (CM, [{"op": "test", "path": "/metadata/uid", "value": "u"}]),
])
def test_writes_and_reads_of_harmless_fields_pass(attrs: Any, ops: list[Any]) -> None:
    assert not refused(attrs, ops)


def test_only_json_patches_are_judged() -> None:
    copy = [{"op": "copy", "from": "/data/password", "path": "/metadata/name"}]
    assert not refused(SECRET, copy, "application/merge-patch+json")
    assert not refused(SECRET, {"op": "copy", "from": "/data/password"})  # not a list
    assert not refused(SECRET, ["copy", None, 3])


def test_the_refusal_does_not_echo_long_pointers() -> None:
    op = {"op": "copy", "from": "/data/" + "x" * 500, "path": "/metadata/name"}
    found = refusal(SECRET, [op])
    assert found is not None and len(found.message) < 500


def test_pointers() -> None:
    assert parse_pointer("") == []
    assert parse_pointer("/a~1b/c~0d/") == ["a/b", "c~d", ""]
    assert parse_pointer("a") is None
