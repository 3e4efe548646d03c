"""Pure parts of the sandbox: patches, selectors, printers, path parsing, the store."""

from __future__ import annotations

import pytest

from kgate.sandbox.patch import PatchError, json_patch, merge_patch, strategic_merge
from kgate.sandbox.paths import parse_target
from kgate.sandbox.registry import default_registry
from kgate.sandbox.selectors import (
    SelectorError,
    make_filter,
    parse_field_selector,
    parse_label_selector,
)
from kgate.sandbox.store import ApiError, Store
from kgate.sandbox.tables import human_duration, to_table


def pod_spec(*containers: dict) -> dict:
    return {"spec": {"containers": list(containers)}}


def test_merge_patch_deletes_with_null_and_replaces_lists() -> None:
    doc = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    assert merge_patch(doc, {"a": {"b": None, "d": 3}, "l": [3]}) == {
        "a": {"c": 2, "d": 3}, "l": [3]}
    assert doc == {"a": {"b": 1, "c": 2}, "l": [1, 2]}


def test_strategic_merge_merges_containers_and_env_by_name() -> None:
    live = pod_spec({"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"},
                                                            {"name": "B", "value": "2"}]},
                    {"name": "sidecar", "image": "s:1"})
    patch = {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                      "containers": [{"name": "app", "image": "a:2",
                                      "env": [{"name": "B", "$patch": "delete"},
                                              {"name": "C", "value": "3"}]}]}}
    out = strategic_merge(live, patch)
    containers = out["spec"]["containers"]
    assert [c["name"] for c in containers] == ["sidecar", "app"]
    assert containers[1]["image"] == "a:2"
    assert containers[1]["env"] == [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]


def test_strategic_merge_directives() -> None:
    live = {"metadata": {"finalizers": ["a", "b"], "labels": {"x": "1", "y": "2"}},
            "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                     "args": ["--a", "--b"]}}
    out = strategic_merge(live, {
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"],
                     "labels": {"$patch": "replace", "z": "3"}},
        "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}, "args": ["--c"]}})
    assert out["metadata"] == {"finalizers": ["b"], "labels": {"z": "3"}}
    assert out["spec"] == {"strategy": {"type": "Recreate"}, "args": ["--c"]}
    assert "$patch" not in str(out) and "$retainKeys" not in str(out)


def test_strategic_merge_service_ports_merge_by_port() -> None:
    live = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
    out = strategic_merge(live, {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}})
    assert out["spec"]["ports"][1] == {"port": 443, "name": "https", "targetPort": 8443}


def test_json_patch_operations_and_errors() -> None:
    doc = {"a": [1, 2], "b": {"c": 1}}
    out = json_patch(doc, [{"op": "add", "path": "/a/-", "value": 3},
                           {"op": "replace", "path": "/b/c", "value": 2},
                           {"op": "copy", "from": "/b", "path": "/d"},
                           {"op": "move", "from": "/d/c", "path": "/e"},
                           {"op": "test", "path": "/e", "value": 2},
                           {"op": "remove", "path": "/a/0"}])
    assert out == {"a": [2, 3], "b": {"c": 2}, "d": {}, "e": 2}
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "remove", "path": "/missing"}])
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "test", "path": "/b/c", "value": 5}])


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ("app=web", {"app": "web"}, True),
    ("app==web,tier!=db", {"app": "web", "tier": "db"}, False),
    ("tier in (web, cache)", {"tier": "cache"}, True),
    ("tier notin (web)", {}, True),
    ("tier", {}, False),
    ("!tier", {}, True),
])
def test_label_selectors(selector: str, labels: dict, expected: bool) -> None:
    keep = make_filter(selector, None, "configmaps")
    assert keep({"metadata": {"labels": labels}}) is expected


def test_selector_errors() -> None:
    with pytest.raises(SelectorError):
        parse_label_selector("a in b")
    with pytest.raises(SelectorError, match="field label not supported: spec.image"):
        parse_field_selector("spec.image=x", "pods")
    assert parse_field_selector("type=Opaque", "secrets")[0].value == "Opaque"
    keep = make_filter(None, "status.phase=Running,spec.nodeName!=n1", "pods")
    assert keep({"status": {"phase": "Running"}, "spec": {"nodeName": "n2"}})
    assert not keep({"status": {"phase": "Pending"}, "spec": {}})


@pytest.mark.parametrize(("seconds", "text"), [
    (5, "5s"), (119, "119s"), (125, "2m5s"), (600, "10m"), (3 * 3600 + 60, "3h1m"),
    (10 * 3600, "10h"), (3 * 86400 + 3600, "3d1h"), (30 * 86400, "30d")])
def test_age_column(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_pod_table_row() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "p", "creationTimestamp": "2020-01-01T00:00:00Z"},
           "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n"},
           "status": {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": [
               {"ready": True, "restartCount": 2}, {"ready": False, "restartCount": 1}]}}
    table = to_table("Pod", [pod], resource_version="7")
    assert [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name", "Ready", "Status", "Restarts", "Age"]
    cells = table["rows"][0]["cells"]
    assert cells[:4] == ["p", "1/2", "Running", "3"] and cells[5:7] == ["10.0.0.1", "n"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_parse_target() -> None:
    reg = default_registry()
    t = parse_target(reg, "/api/v1/namespaces/dev/pods/p1/log")
    assert t is not None and (t.rt.name, t.namespace, t.name, t.subresource) == (
        "pods", "dev", "p1", "log")
    t = parse_target(reg, "/api/v1/namespaces/dev")
    assert t is not None and (t.rt.name, t.name) == ("namespaces", "dev")
    t = parse_target(reg, "/api/v1/namespaces/dev/status")
    assert t is not None and (t.rt.name, t.name, t.subresource) == ("namespaces", "dev",
                                                                    "status")
    t = parse_target(reg, "/apis/apps/v1/watch/namespaces/dev/deployments")
    assert t is not None and t.watch_path and t.namespace == "dev"
    assert parse_target(reg, "/apis/apps/v1/namespaces/dev/nothings") is None
    assert parse_target(reg, "/api/v1/pods/p1") is None


def test_store_update_conflict_generation_and_noop() -> None:
    reg = default_registry()
    store = Store()
    ns_rt, dep_rt = reg.preferred("", "namespaces"), reg.preferred("apps", "deployments")
    assert ns_rt is not None and dep_rt is not None
    store.create(ns_rt, None, {"metadata": {"name": "default"}})
    dep = store.create(dep_rt, "default", {"metadata": {"name": "d"}, "spec": {"replicas": 1}})
    assert dep["metadata"]["generation"] == 1
    same = store.update(dep_rt, "default", "d", dep)
    assert same["metadata"]["resourceVersion"] == dep["metadata"]["resourceVersion"]
    dep["spec"]["replicas"] = 2
    newer = store.update(dep_rt, "default", "d", dep)
    assert newer["metadata"]["generation"] == 2
    with pytest.raises(ApiError) as exc:
        store.update(dep_rt, "default", "d", dep)
    assert exc.value.code == 409 and exc.value.body["reason"] == "Conflict"
    with pytest.raises(ApiError) as exc:
        store.create(dep_rt, "nowhere", {"metadata": {"name": "d"}})
    assert exc.value.body["message"] == 'namespaces "nowhere" not found'
