"""mask_json over every response shape: objects, Lists, Tables, watch events, Status, env."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest

from kgate.proxy.masking import PLACEHOLDER_RE, Masker, MaskingError, MaskingSettings

from .conftest import b64, dumps, loads, secret, unb64

LA = "kubectl.kubernetes.io/last-applied-configuration"


def masked_ok(masker: Masker, doc: Any) -> tuple[Any, int]:
    res = masker.mask_json(dumps(doc))
    return loads(res.body), res.masked


def assert_no(body: bytes | Any, *secrets: str) -> None:
    text = body.decode() if isinstance(body, bytes) else json.dumps(body)
    for s in secrets:
        assert s not in text
        assert b64(s) not in text


# -- Secrets ---------------------------------------------------------------------------------

def test_secret_data_stays_valid_base64_of_placeholder(masker: Masker) -> None:
    out, n = masked_ok(masker, secret(data={"password": "hunter2", "user": "admin"}))
    assert n == 2
    assert set(out["data"]) == {"password", "user"}          # keys stay
    for v in out["data"].values():
        assert PLACEHOLDER_RE.fullmatch(unb64(v))               # base64 -d prints the placeholder
    assert unb64(out["data"]["password"]) == masker.placeholder("hunter2")
    assert out["metadata"]["name"] == "db" and out["type"] == "Opaque"
    assert_no(out, "hunter2", "admin")


def test_string_data_becomes_placeholder_text(masker: Masker) -> None:
    out, n = masked_ok(masker, secret(string_data={"password": "hunter2"}))
    assert n == 1 and out["stringData"]["password"] == masker.placeholder("hunter2")


def test_equal_values_agree_between_data_and_string_data(masker: Masker) -> None:
    out, _ = masked_ok(masker, secret(data={"a": "same"}, string_data={"b": "same"}))
    assert unb64(out["data"]["a"]) == out["stringData"]["b"]


def test_binary_secret_data(masker: Masker) -> None:
    doc = secret()
    doc["data"] = {"keystore": base64.b64encode(bytes(range(256))).decode()}
    out, n = masked_ok(masker, doc)
    assert n == 1 and PLACEHOLDER_RE.fullmatch(unb64(out["data"]["keystore"]))


def test_empty_values_left_alone(masker: Masker) -> None:
    doc = secret(data={})
    doc["data"] = {"empty": ""}
    res = masker.mask_json(dumps(doc))
    assert res.masked == 0


@pytest.mark.parametrize("list_kind", ["SecretList", "List"])
def test_lists(masker: Masker, list_kind: str) -> None:
    items = [secret(f"s{i}", {"password": f"pw-{i}"}, kind=list_kind == "List")
             for i in range(3)]
    if list_kind == "List":
        items.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                      "data": {"app.conf": "password=cm-secret\nport=80"}})
    doc = {"apiVersion": "v1", "kind": list_kind, "metadata": {}, "items": items}
    out, n = masked_ok(masker, doc)
    assert n == len(items)
    assert_no(out, "pw-0", "pw-1", "pw-2", "cm-secret")
    if list_kind == "List":
        assert out["items"][3]["data"]["app.conf"].endswith("\nport=80")


def test_kindless_secret_is_still_masked(masker: Masker) -> None:
    out, n = masked_ok(masker, secret(data={"token": "abc"}, kind=False))
    assert n == 1 and and_no(out, "abc")


def and_no(out: Any, *secrets: str) -> bool:
    assert_no(out, *secrets)
    return True


def test_unchanged_body_returned_byte_for_byte(masker: Masker) -> None:
    body = b'{"kind":"Pod",  "metadata": {"name":"x"},"spec":{"containers":[]}}'
    res = masker.mask_json(body)
    assert res.masked == 0 and res.body is body


def test_status_and_other_kinds(masker: Masker) -> None:
    status = {"kind": "Status", "status": "Failure",
              "message": 'admission webhook denied: password="leaky1"', "code": 400}
    out, n = masked_ok(masker, status)
    assert n == 1 and "leaky1" not in out["message"]
    ns, n = masked_ok(masker, {"kind": "Namespace", "metadata": {"name": "dev"}})
    assert n == 0 and ns["metadata"]["name"] == "dev"


# -- last-applied ----------------------------------------------------------------------------

def last_applied(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":")) + "\n"


@pytest.mark.parametrize("kind", ["Secret", "ConfigMap", "Deployment", "Widget"])
def test_last_applied_masked_inside_on_any_kind(masker: Masker, kind: str) -> None:
    applied = secret(string_data={"password": "hunter2"}, data={"user": "admin"})
    obj = {"apiVersion": "v1", "kind": kind,
           "metadata": {"name": "x", "annotations": {LA: last_applied(applied),
                                                      "owner": "me"}}}
    out, n = masked_ok(masker, obj)
    assert n == 2
    ann = out["metadata"]["annotations"]
    assert ann["owner"] == "me"
    assert ann[LA].endswith("\n")
    inner = json.loads(ann[LA])                       # still JSON, compact
    assert inner["stringData"]["password"] == masker.placeholder("hunter2")
    assert unb64(inner["data"]["user"]) == masker.placeholder("admin")
    assert_no(out, "hunter2", "admin")


def test_last_applied_env_and_detectors_inside(masker: Masker) -> None:
    applied = deployment(env=[{"name": "DB_PASSWORD", "value": "pw1"}])
    applied["metadata"]["annotations"] = {"note": "token=tok1"}
    obj = deployment(env=[])
    obj["metadata"]["annotations"] = {LA: last_applied(applied)}
    out, n = masked_ok(masker, obj)
    assert n == 2
    assert_no(out, "pw1", "tok1")


def test_unparseable_last_applied_replaced_whole(masker: Masker) -> None:
    obj = {"kind": "ConfigMap", "metadata": {"name": "x", "annotations": {
        LA: '{"stringData": {"password": "hunter2"'}}}
    out, n = masked_ok(masker, obj)
    assert n == 1 and PLACEHOLDER_RE.fullmatch(out["metadata"]["annotations"][LA])


def test_managed_fields_hold_names_only(masker: Masker) -> None:
    obj = secret(data={"password": "hunter2"})
    obj["metadata"]["managedFields"] = [{
        "manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {".": {}, "f:password": {}}, "f:type": {}},
    }]
    out, _ = masked_ok(masker, obj)
    assert out["metadata"]["managedFields"] == obj["metadata"]["managedFields"]
    assert_no(out, "hunter2")


# -- ConfigMaps, annotations, events ---------------------------------------------------------

def test_configmap_data_and_binary_data(masker: Masker) -> None:
    cm: dict[str, Any] = {"kind": "ConfigMap", "metadata": {"name": "c"},
          "data": {"db.url": "postgres://u:pw9@db/x", "plain": "hello world",
                   "key.pem": "-----BEGIN PRIVATE KEY-----\nMIIEabc\n-----END PRIVATE KEY-----\n"},
          "binaryData": {"env": b64("API_TOKEN=bin-secret\n"), "blob": b64(bytes([0, 255, 7]))}}
    out, n = masked_ok(masker, cm)
    assert n == 3
    assert out["data"]["plain"] == "hello world"
    assert out["binaryData"]["blob"] == cm["binaryData"]["blob"]
    assert unb64(out["binaryData"]["env"]).startswith("API_TOKEN=kgate:masked:")
    assert_no(out, "pw9", "MIIEabc", "bin-secret")


def test_annotations_on_any_kind(masker: Masker) -> None:
    obj = {"kind": "Service", "metadata": {"name": "s", "annotations": {
        "ci/token": "ghp_" + "a" * 36, "desc": "plain text"}}}
    out, n = masked_ok(masker, obj)
    assert n == 1 and out["metadata"]["annotations"]["desc"] == "plain text"


@pytest.mark.parametrize("field", ["message", "note"])
def test_event_messages(masker: Masker, field: str) -> None:
    ev = {"kind": "Event", "metadata": {"name": "e"}, field: "pulled with password=evpw"}
    out, n = masked_ok(masker, ev)
    assert n == 1 and "evpw" not in out[field]


# -- env in pods and templates ---------------------------------------------------------------

def container(env: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "c", "image": "img", "env": env}


def deployment(env: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [container(env)]}}}}


ENV: list[dict[str, Any]] = [
    {"name": "DB_PASSWORD", "value": "envpw"},
    {"name": "API_KEY", "value": "envkey"},
    {"name": "LOG_LEVEL", "value": "debug"},
    {"name": "DATABASE_URL", "value": "mysql://app:urlpw@db/x"},
    {"name": "SECRET_FROM", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
]


def pod_spec_holders() -> list[dict[str, Any]]:
    spec = {"containers": [container(ENV)], "initContainers": [container(ENV)],
            "ephemeralContainers": [container(ENV)]}
    tmpl = {"spec": spec}
    return [
        {"kind": "Pod", "metadata": {"name": "p"}, "spec": spec},
        {"kind": "Deployment", "spec": {"template": tmpl}},
        {"kind": "ReplicaSet", "spec": {"template": tmpl}},
        {"kind": "StatefulSet", "spec": {"template": tmpl}},
        {"kind": "DaemonSet", "spec": {"template": tmpl}},
        {"kind": "Job", "spec": {"template": tmpl}},
        {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": tmpl}}}},
        {"kind": "PodTemplate", "template": tmpl},
    ]


@pytest.mark.parametrize("obj", pod_spec_holders(), ids=lambda o: o["kind"])
def test_env_literal_values_by_name(masker: Masker, obj: dict[str, Any]) -> None:
    out, n = masked_ok(masker, obj)
    assert n == 9   # 3 containers × (2 secret names + 1 URL password)
    text = json.dumps(out)
    assert_no(out, "envpw", "envkey", "urlpw")
    assert '"value": "debug"' in text and "secretKeyRef" in text


@pytest.mark.parametrize("obj", pod_spec_holders()[1:], ids=lambda o: o["kind"])
def test_pod_template_annotations(masker: Masker, obj: dict[str, Any]) -> None:
    """Template annotations become every pod's annotations: masked like a pod's own."""
    holder = obj.get("template") or obj["spec"].get("template") or \
        obj["spec"]["jobTemplate"]["spec"]["template"]
    holder["metadata"] = {"labels": {"app": "x"}, "annotations": {
        "log": "DEBUG connecting to postgres://app:tmplpw@db:5432/x", "team": "web"}}
    out, _ = masked_ok(masker, obj)
    assert_no(out, "tmplpw")
    text = json.dumps(out)
    assert '"team": "web"' in text and '"app": "x"' in text


def test_env_names_configurable() -> None:
    # secretEnvNames adds names; the sensitive-key rule (DB_PASSWORD) applies whatever it says
    m = Masker(MaskingSettings(secret_env_names="^LOG_"), bytes(32))
    out = loads(m.mask_json(dumps(deployment(ENV))).body)
    env = out["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[0]["value"] != "envpw" and env[2]["value"] != "debug"


def test_args_checked_by_detectors(masker: Masker) -> None:
    pod = {"kind": "Pod", "spec": {"containers": [
        {"name": "c", "args": ["--db-password=argpw", "--port=80"]}]}}
    out, n = masked_ok(masker, pod)
    assert n == 1 and out["spec"]["containers"][0]["args"][1] == "--port=80"


# -- Tables and watch events -----------------------------------------------------------------

def table(objects: list[dict[str, Any]], cells: list[list[Any]] | None = None) -> dict[str, Any]:
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
            "columnDefinitions": [{"name": "Name", "type": "string"}],
            "rows": [{"cells": (cells[i] if cells else [o["metadata"]["name"], "Opaque", 1]),
                      "object": o} for i, o in enumerate(objects)]}


def test_table_with_full_secret_objects(masker: Masker) -> None:
    objs = [secret("a", {"password": "tpw1"}), secret("b", {"password": "tpw2"}, kind=False)]
    out, n = masked_ok(masker, table(objs))
    assert n == 2 and out["rows"][0]["cells"] == ["a", "Opaque", 1]
    assert_no(out, "tpw1", "tpw2")


def test_table_partial_metadata_annotations(masker: Masker) -> None:
    pom = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
           "metadata": {"name": "a", "annotations": {
               LA: last_applied(secret(string_data={"password": "pompw"}))}}}
    out, n = masked_ok(masker, table([pom]))
    assert n == 1 and and_no(out, "pompw")


def test_table_cells_checked(masker: Masker) -> None:
    ev = {"kind": "Event", "metadata": {"name": "e"}, "message": "token=celltok"}
    out, n = masked_ok(masker, table([ev], cells=[["1m", "Warning", "token=celltok"]]))
    assert n == 2 and and_no(out, "celltok")


@pytest.mark.parametrize("shape", ["plain", "table", "watchevent-kind"])
def test_watch_event_objects(masker: Masker, shape: str) -> None:
    s = secret(data={"password": "wpw"})
    obj: dict[str, Any] = table([s]) if shape == "table" else s
    ev: dict[str, Any] = {"type": "MODIFIED", "object": obj}
    if shape == "watchevent-kind":
        ev = {"kind": "WatchEvent", "apiVersion": "meta.k8s.io/v1", **ev}
    out, n = masked_ok(masker, ev)
    assert n == 1 and out["type"] == "MODIFIED" and and_no(out, "wpw")


def test_top_level_array(masker: Masker) -> None:
    out, n = masked_ok(masker, [secret(data={"p": "arrpw"})])
    assert n == 1 and and_no(out, "arrpw")


# -- fail closed and idempotence -------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b'{"kind":"Secret","data":{"password":"aHVudGVyMg=="',      # truncated
    b"not json",
    b"k8s\x00\x0a\x0c\x0a\x02v1\x12\x06Secret",                  # protobuf
    b'{"kind":"Secret"}garbage',
    "{\"a\":\"\xff\"}".encode("latin-1"),                        # invalid UTF-8
])
def test_unparseable_raises(masker: Masker, body: bytes) -> None:
    with pytest.raises(MaskingError) as e:
        masker.mask_json(body)
    assert "aHVudGVyMg" not in str(e.value)


def test_big_integers_survive(masker: Masker) -> None:
    body = b'{"kind":"Secret","data":{"p":"eA=="},"x":123456789012345678901234567890}'
    out = loads_stdlib(masker.mask_json(body).body)
    assert out["x"] == 123456789012345678901234567890


def loads_stdlib(body: bytes) -> Any:
    return json.loads(body)


def test_idempotent_on_every_shape(masker: Masker) -> None:
    docs: list[Any] = [*pod_spec_holders(),
                       table([secret("a", {"password": "x"})]),
                       {"kind": "SecretList", "items": [secret(data={"a": "b"}, kind=False)]},
                       {"kind": "ConfigMap", "data": {"a": "password=x"}, "metadata": {
                           "annotations": {LA: last_applied(secret(string_data={"p": "q"}))}}}]
    for doc in docs:
        once = masker.mask_json(dumps(doc))
        assert once.masked > 0
        twice = masker.mask_json(once.body)
        assert twice.masked == 0 and twice.body == once.body


def test_orjson_round_trip_keeps_order_and_values(masker: Masker) -> None:
    doc = secret(data={"z": "1", "a": "2"})
    doc["metadata"]["labels"] = {"b": "x", "a": "y"}
    out = masker.mask_json(orjson.dumps(doc)).body
    assert list(loads(out)["data"]) == ["z", "a"]
    assert list(loads(out)["metadata"]["labels"]) == ["b", "a"]


def test_a_watch_event_whose_object_is_not_an_object_is_walked_as_it_is(masker: Masker) -> None:
    """``{"kind": "WatchEvent", "object": null}`` (or a string) used to raise AttributeError
    inside the walker (a 500 to the agent); it is an object like any other."""
    for obj in (None, "token=ghp_" + "a1B2" * 9, ["x", {"password": "hunter2hunter2"}]):
        body = orjson.dumps({"kind": "WatchEvent", "type": "ADDED", "object": obj})
        out = orjson.loads(masker.mask_json(body).body)
        assert out["type"] == "ADDED"
        assert "ghp_" + "a1B2" * 9 not in orjson.dumps(out).decode()
        assert "hunter2hunter2" not in orjson.dumps(out).decode()


def test_odd_shapes_are_masked_not_crashed_on(masker: Masker) -> None:
    """A Table whose rows are not a list, a WatchEvent without an object: walked as they are."""
    for doc in ({"kind": "Table", "rows": True, "note": "password=hunter2hunter2"},
                {"kind": "Table", "rows": {"password": "hunter2hunter2"}},
                {"kind": "WatchEvent", "type": "ADDED", "password": "hunter2hunter2"},
                {"kind": "Table", "rows": ["password=hunter2hunter2", {"cells": ["a"]}]}):
        out = masker.mask_json(orjson.dumps(doc)).body
        assert b"hunter2hunter2" not in out and orjson.loads(out)["kind"] == doc["kind"]


def test_a_big_list_whose_item_is_not_an_object_is_refused(masker: Masker) -> None:
    items = [orjson.dumps({"kind": "ConfigMap", "metadata": {"name": f"c{i}"},
                           "data": {"pad": "p" * 2000}}) for i in range(600)]
    items[7] = b'"password=hunter2hunter2"'
    body = b'{"kind":"List","apiVersion":"v1","metadata":{},"items":[' + b",".join(items) + b"]}"
    with pytest.raises(MaskingError, match=r"items\[7\] is not an object"):
        masker.mask_json(body)
