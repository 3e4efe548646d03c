"""Placeholders written back: restored at the slot and namespace they were issued for, refused
anywhere else, judged on the decoded document (class 8: YAML escapes and folds)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from kgate.proxy.attributes import RequestAttributes, parse_request
from kgate.proxy.errors import BodyRefused
from kgate.proxy.stages.body import inspect_body
from kgate.proxy.stages.masking import EngineMasker

from .conftest import KEY

PW = "Wb-R3al-Pa55-6621"
JSON = "application/json"


def attrs(method: str, path: str) -> RequestAttributes:
    return parse_request(method, path, "")


def read(engine: EngineMasker, path: str, obj: dict[str, Any]) -> dict[str, Any]:
    body, _ = engine.mask_body(attrs("GET", path), orjson.dumps(obj))
    out: dict[str, Any] = orjson.loads(body)
    return out


def write(engine: EngineMasker, method: str, path: str, body: bytes,
          content_type: str = JSON) -> bytes | None:
    a = attrs(method, path)
    facts = inspect_body(content_type, None, body)
    return engine.check(a, content_type, body, facts)


def pod(name: str, ns: str = "dev", env_name: str = "DB_PASSWORD") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "app", "image": "busybox",
                                     "args": ["--db-password", PW],
                                     "env": [{"name": env_name, "value": PW}]}]}}


@pytest.fixture
def engine() -> EngineMasker:
    return EngineMasker(key=KEY)


def test_debug_copy_to_restores_real_values(engine: EngineMasker) -> None:
    shown = read(engine, "/api/v1/namespaces/dev/pods/web", pod("web"))
    assert PW not in orjson.dumps(shown).decode()
    copy = {**shown, "metadata": {"name": "web-debug", "namespace": "dev"}}
    copy["spec"]["containers"].append({"name": "debugger", "image": "busybox"})
    out = write(engine, "POST", "/api/v1/namespaces/dev/pods", orjson.dumps(copy))
    assert out is not None
    sent = orjson.loads(out)
    c = sent["spec"]["containers"][0]
    assert c["env"][0]["value"] == PW and c["args"][1] == PW


def test_rollout_undo_json_patch_restores(engine: EngineMasker) -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": pod("x")["spec"]}
    rs = read(engine, "/apis/apps/v1/namespaces/dev/replicasets/web-1", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-1", "namespace": "dev"}, "spec": {"template": template}})
    patch = [{"op": "replace", "path": "/spec/template", "value": rs["spec"]["template"]},
             {"op": "replace", "path": "/metadata/annotations", "value": {"a": "b"}}]
    out = write(engine, "PATCH", "/apis/apps/v1/namespaces/dev/deployments/web",
                orjson.dumps(patch), "application/json-patch+json")
    assert out is not None and orjson.loads(out)[0]["value"]["spec"]["containers"][0][
        "env"][0]["value"] == PW


def test_cronjob_to_job_restores(engine: EngineMasker) -> None:
    cj = read(engine, "/apis/batch/v1/namespaces/dev/cronjobs/nightly", {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "dev"},
        "spec": {"schedule": "@daily", "jobTemplate": {
            "metadata": {"annotations": {"note": f"password={PW}"}},
            "spec": {"template": {"spec": pod("x")["spec"]}}}}})
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "manual", "namespace": "dev",
                        "annotations": cj["spec"]["jobTemplate"]["metadata"]["annotations"]},
           "spec": cj["spec"]["jobTemplate"]["spec"]}
    out = write(engine, "POST", "/apis/batch/v1/namespaces/dev/jobs", orjson.dumps(job))
    assert out is not None
    sent = orjson.loads(out)
    assert sent["metadata"]["annotations"]["note"] == f"password={PW}"
    assert sent["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == PW


@pytest.mark.parametrize("change", ["other-env", "other-namespace", "configmap", "label",
                                    "test-op"])
def test_placeholder_elsewhere_is_refused(engine: EngineMasker, change: str) -> None:
    shown = read(engine, "/api/v1/namespaces/dev/pods/web", pod("web"))
    ph = shown["spec"]["containers"][0]["env"][0]["value"]
    content_type = JSON
    if change == "other-env":
        body = orjson.dumps(pod("p2", env_name="LEAK_HERE") | {"spec": {"containers": [
            {"name": "app", "image": "busybox", "env": [{"name": "LEAK_HERE", "value": ph}]}]}})
        path = "/api/v1/namespaces/dev/pods"
    elif change == "other-namespace":
        copy = {**shown, "metadata": {"name": "web", "namespace": "other"}}
        body, path = orjson.dumps(copy), "/api/v1/namespaces/other/pods"
    elif change == "configmap":
        body = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "c", "namespace": "dev"},
                             "data": {"DB_PASSWORD": ph}})
        path = "/api/v1/namespaces/dev/configmaps"
    elif change == "label":
        body = orjson.dumps({"metadata": {"labels": {"x": ph}}})
        path, content_type = "/api/v1/namespaces/dev/pods/web", "application/merge-patch+json"
    else:
        body = orjson.dumps([{"op": "test", "path": "/spec/containers/0/env/0/value",
                              "value": ph}])
        path, content_type = "/api/v1/namespaces/dev/pods/web", "application/json-patch+json"
    method = "PATCH" if content_type != JSON else "POST"
    with pytest.raises(BodyRefused) as err:
        write(engine, method, path, body, content_type)
    assert "masked placeholder" in str(err.value)


def test_refusal_names_fields(engine: EngineMasker) -> None:
    shown = read(engine, "/api/v1/namespaces/dev/secrets/db", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "dev"},
        "type": "Opaque", "data": {"password": base64.b64encode(PW.encode()).decode(),
                                   "user": base64.b64encode(b"app-user-1").decode()}})
    d = shown["data"]
    d["password"], d["user"] = d["user"], d["password"]
    with pytest.raises(BodyRefused) as err:
        write(engine, "PUT", "/api/v1/namespaces/dev/secrets/db", orjson.dumps(shown))
    assert sorted(err.value.fields) == ["data.password", "data.user"]


def test_same_secret_key_restored(engine: EngineMasker) -> None:
    value = base64.b64encode(PW.encode()).decode()
    shown = read(engine, "/api/v1/namespaces/dev/secrets/db", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "dev"},
        "type": "Opaque", "data": {"password": value}})
    out = write(engine, "PUT", "/api/v1/namespaces/dev/secrets/db", orjson.dumps(shown))
    assert out is not None and orjson.loads(out)["data"]["password"] == value


# -- class 8: the decoded document, not the bytes ------------------------------------------

def _yaml_spellings(ph: str) -> list[str]:
    return [
        ph.replace(":", "\\x3a"),                      # double-quoted YAML escapes
        ph.replace("m", "\\u006d", 1),
        ph[:8] + "\\\n  " + ph[8:],                    # escaped line break inside the scalar
    ]


@pytest.mark.parametrize("spelling", range(3))
def test_yaml_escapes_are_decoded_before_the_check(engine: EngineMasker, spelling: int) -> None:
    shown = read(engine, "/api/v1/namespaces/dev/pods/web", pod("web"))
    ph = shown["spec"]["containers"][0]["env"][0]["value"]
    text = _yaml_spellings(ph)[spelling]
    assert ph not in text
    elsewhere = (f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: dev\n'
                 f'stringData:\n  password: "{text}"\n').encode()
    with pytest.raises(BodyRefused) as err:
        write(engine, "PATCH", "/api/v1/namespaces/dev/secrets/s", elsewhere,
              "application/apply-patch+yaml")
    assert err.value.fields == ["stringData.password"]
    # spelled the same way, at the slot it came from: restored, sent as JSON
    same = (f'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: dev\nspec:\n'
            f'  containers:\n  - name: app\n    env:\n    - name: DB_PASSWORD\n'
            f'      value: "{text}"\n').encode()
    out = write(engine, "PATCH", "/api/v1/namespaces/dev/pods/web", same,
                "application/apply-patch+yaml")
    assert out is not None
    assert orjson.loads(out)["spec"]["containers"][0]["env"][0]["value"] == PW


def test_json_unicode_escapes_are_decoded(engine: EngineMasker) -> None:
    shown = read(engine, "/api/v1/namespaces/dev/pods/web", pod("web"))
    ph = shown["spec"]["containers"][0]["env"][0]["value"]
    body = ('{"metadata":{"labels":{"x":"' + ph.replace("k", "\\u006b") + '"}}}').encode()
    with pytest.raises(BodyRefused):
        write(engine, "PATCH", "/api/v1/namespaces/dev/pods/web", body,
              "application/merge-patch+json")


def test_yaml_binary_and_keys_are_refused(engine: EngineMasker) -> None:
    shown = read(engine, "/api/v1/namespaces/dev/pods/web", pod("web"))
    ph = shown["spec"]["containers"][0]["env"][0]["value"]
    b = base64.b64encode(ph.encode()).decode()
    for body in (f"metadata:\n  labels:\n    x: !!binary {b}\n",
                 f"metadata:\n  labels:\n    \"{ph}\": x\n"):
        with pytest.raises(BodyRefused):
            write(engine, "PATCH", "/api/v1/namespaces/dev/pods/web", body.encode(),
                  "application/apply-patch+yaml")


def test_protobuf_with_placeholder_is_refused(engine: EngineMasker) -> None:
    shown = read(engine, "/api/v1/namespaces/dev/pods/web", pod("web"))
    ph = shown["spec"]["containers"][0]["env"][0]["value"].encode()
    a = attrs("POST", "/api/v1/namespaces/dev/pods")
    with pytest.raises(BodyRefused):
        engine.check(a, "application/vnd.kubernetes.protobuf", b"k8s\x00\x0a" + ph, None)


def test_log_copy_uses_the_document_without_changing_it(engine: EngineMasker) -> None:
    body = orjson.dumps(pod("web"))
    facts = inspect_body(JSON, None, body)
    before = orjson.dumps(facts.document)
    copy = engine.log_copy(attrs("POST", "/api/v1/namespaces/dev/pods"), JSON, body, facts)
    assert PW not in orjson.dumps(copy).decode()
    assert orjson.dumps(facts.document) == before
