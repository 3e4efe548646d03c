"""The official ``kubernetes`` Python client, and raw HTTP for wire details kubectl hides."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch

from kgate.sandbox.runner import RunningSandbox

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


@pytest.fixture
def core(sandbox_kubeconfig: Path) -> Any:
    api_client = config.new_client_from_config(config_file=str(sandbox_kubeconfig))
    yield client.CoreV1Api(api_client)
    api_client.close()


def raw(sandbox: RunningSandbox, path: str, *, method: str = "GET", body: Any = None,
        accept: str = "application/json", token: str | None = None,
        content_type: str = "application/json", timeout: float = 10) -> tuple[int, dict, bytes]:
    ctx = ssl.create_default_context(cadata=sandbox.ca_pem.decode())
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(sandbox.url + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token or sandbox.admin_token}", "Accept": accept,
        "Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_client_list_create_and_watch(core: Any, sandbox_kubeconfig: Path) -> None:
    config.load_kube_config(config_file=str(sandbox_kubeconfig))
    names = {ns.metadata.name for ns in core.list_namespace().items}
    assert names == {"default", "kube-system", "kube-public"}
    created = core.create_namespaced_config_map("default", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="from-python"), data={"k": "v"}))
    assert created.metadata.uid and created.metadata.resource_version
    seen = []
    for event in watch.Watch().stream(core.list_namespaced_config_map, "default",
                                      timeout_seconds=2):
        seen.append((event["type"], event["object"].metadata.name))
        break
    assert seen == [("ADDED", "from-python")]
    with pytest.raises(client.ApiException) as exc:
        core.read_namespaced_config_map("missing", "default")
    assert exc.value.status == 404
    assert json.loads(exc.value.body)["message"] == 'configmaps "missing" not found'


def test_watch_resumes_from_resource_version_and_expires(sandbox: RunningSandbox) -> None:
    status, _, body = raw(sandbox, "/api/v1/namespaces/default/configmaps")
    rv = json.loads(body)["metadata"]["resourceVersion"]
    raw(sandbox, "/api/v1/namespaces/default/configmaps", method="POST",
        body={"metadata": {"name": "a"}})
    raw(sandbox, "/api/v1/namespaces/default/configmaps/a", method="PATCH",
        body={"data": {"x": "1"}}, content_type="application/merge-patch+json")
    status, headers, body = raw(
        sandbox, f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"
        "&timeoutSeconds=1&allowWatchBookmarks=true")
    assert status == 200 and headers["Content-Type"] == "application/json"
    events = [json.loads(line) for line in body.splitlines()]
    assert [e["type"] for e in events[:2]] == ["ADDED", "MODIFIED"]
    assert events[1]["object"]["data"] == {"x": "1"}
    assert int(events[1]["object"]["metadata"]["resourceVersion"]) > int(rv)
    for i in range(5100):    # push the history window past the old version
        sandbox.run(lambda i=i: sandbox.store.put_raw("", "configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "churn", "namespace": "default", "uid": "u"},
            "data": {"i": str(i)}}))
    status, _, body = raw(sandbox, f"/api/v1/namespaces/default/configmaps?watch=true"
                          f"&resourceVersion={rv}")
    assert status == 410 and json.loads(body)["reason"] == "Expired"


def test_table_watch_sends_headers_once(sandbox: RunningSandbox) -> None:
    _, _, body = raw(sandbox, "/api/v1/namespaces?watch=true&timeoutSeconds=1", accept=TABLE)
    events = [json.loads(line) for line in body.splitlines()]
    assert len(events) == 3 and {e["type"] for e in events} == {"ADDED"}
    assert all(e["object"]["kind"] == "Table" for e in events)
    assert [c["name"] for c in events[0]["object"]["columnDefinitions"]] == [
        "Name", "Status", "Age"]
    assert all(not e["object"]["columnDefinitions"] for e in events[1:])
    row = events[0]["object"]["rows"][0]
    assert row["object"]["kind"] == "PartialObjectMetadata"


def test_table_include_object_and_list_shape(sandbox: RunningSandbox) -> None:
    _, headers, body = raw(sandbox, "/api/v1/namespaces?includeObject=Object", accept=TABLE)
    table = json.loads(body)
    assert table["kind"] == "Table" and headers["Content-Type"].startswith("application/json")
    assert table["rows"][0]["object"]["kind"] == "Namespace"
    _, _, body = raw(sandbox, "/api/v1/namespaces?includeObject=None", accept=TABLE)
    assert all("object" not in r for r in json.loads(body)["rows"])
    _, _, body = raw(sandbox, "/api/v1/namespaces",
                     accept="application/vnd.kubernetes.protobuf,application/json")
    listed = json.loads(body)
    assert listed["kind"] == "NamespaceList" and listed["apiVersion"] == "v1"
    assert listed["metadata"]["resourceVersion"]


def test_discovery_documents(sandbox: RunningSandbox) -> None:
    aggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    _, headers, body = raw(sandbox, "/apis", accept=aggregated + ",application/json")
    assert headers["Content-Type"] == aggregated
    groups = {g["metadata"]["name"]: g for g in json.loads(body)["items"]}
    apps = {r["resource"]: r for r in groups["apps"]["versions"][0]["resources"]}
    subs = {s["subresource"]: s for s in apps["deployments"]["subresources"]}
    assert subs["scale"]["responseKind"] == {"group": "autoscaling", "version": "v1",
                                             "kind": "Scale"}
    assert apps["deployments"]["shortNames"] == ["deploy"]
    _, headers, body = raw(sandbox, "/apis")
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["kind"] == "APIGroupList"
    _, _, body = raw(sandbox, "/api/v1")
    names = {r["name"] for r in json.loads(body)["resources"]}
    assert {"pods", "pods/log", "pods/exec", "configmaps"} <= names
    _, _, body = raw(sandbox, "/version")
    version = json.loads(body)
    assert (version["major"], version["minor"]) == ("1", "32")
    assert version["gitVersion"].startswith("v1.32.")
    status, _, body = raw(sandbox, "/healthz", token="wrong")
    assert status == 401
    for path in ("/healthz", "/livez", "/readyz"):
        assert raw(sandbox, path)[2] == b"ok"


def test_scale_subresource_and_dry_run(sandbox: RunningSandbox) -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                           "template": {"metadata": {"labels": {"app": "d"}},
                                        "spec": {"containers": [{"name": "c",
                                                                 "image": "busybox"}]}}}}
    base = "/apis/apps/v1/namespaces/default/deployments"
    status, _, _ = raw(sandbox, base + "?dryRun=All", method="POST", body=deployment)
    assert status == 201
    assert sandbox.run(lambda: sandbox.store.get("apps", "deployments", "default", "d")) is None
    assert raw(sandbox, base, method="POST", body=deployment)[0] == 201
    status, _, body = raw(sandbox, base + "/d/scale")
    scale = json.loads(body)
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    status, _, body = raw(sandbox, base + "/d/scale", method="PATCH",
                          body={"spec": {"replicas": 3}},
                          content_type="application/merge-patch+json")
    assert status == 200 and json.loads(body)["spec"]["replicas"] == 3
    dep = sandbox.run(lambda: sandbox.store.get("apps", "deployments", "default", "d"))
    assert dep is not None and dep["spec"]["replicas"] == 3
    status, _, body = raw(sandbox, base + "/d", method="PATCH",
                          body=[{"op": "replace", "path": "/spec/replicas", "value": 2}],
                          content_type="application/json-patch+json")
    assert status == 200 and json.loads(body)["spec"]["replicas"] == 2
    status, _, body = raw(sandbox, base + "/d", method="PATCH",
                          body={"metadata": {"resourceVersion": "1"}},
                          content_type="application/merge-patch+json")
    assert status == 409 and json.loads(body)["reason"] == "Conflict"


def test_generate_name_and_status_subresource(sandbox: RunningSandbox) -> None:
    status, _, body = raw(sandbox, "/api/v1/namespaces/default/pods", method="POST", body={
        "metadata": {"generateName": "job-"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    pod = json.loads(body)
    assert status == 201 and pod["metadata"]["name"].startswith("job-")
    assert len(pod["metadata"]["name"]) == len("job-") + 5
    name = pod["metadata"]["name"]
    status, _, body = raw(sandbox, f"/api/v1/namespaces/default/pods/{name}/status",
                          method="PATCH", body={"status": {"phase": "Succeeded"}},
                          content_type="application/merge-patch+json")
    assert status == 200 and json.loads(body)["status"]["phase"] == "Succeeded"
    status, _, body = raw(sandbox, "/api/v1/namespaces/default/pods", method="POST",
                          body={"metadata": {}})
    assert status == 422
    assert json.loads(body)["message"] == (
        'Pod "" is invalid: metadata.name: Required value: name or generateName is required')


def test_watch_with_selector_reports_objects_leaving_it(sandbox: RunningSandbox) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    raw(sandbox, base, method="POST", body={"metadata": {"name": "c", "labels": {"t": "a"}}})
    rv = json.loads(raw(sandbox, base)[2])["metadata"]["resourceVersion"]
    raw(sandbox, base + "/c", method="PATCH", body={"metadata": {"labels": {"t": "b"}}},
        content_type="application/merge-patch+json")
    raw(sandbox, base + "/c", method="PATCH", body={"metadata": {"labels": {"t": "a"}}},
        content_type="application/merge-patch+json")
    _, _, body = raw(sandbox, f"{base}?watch=1&labelSelector=t%3Da&timeoutSeconds=1"
                     f"&resourceVersion={int(rv) - 1}")
    assert [json.loads(line)["type"] for line in body.splitlines()] == [
        "ADDED", "DELETED", "ADDED"]


def test_token_request_for_a_service_account(sandbox: RunningSandbox) -> None:
    status, _, body = raw(sandbox, "/api/v1/namespaces/default/serviceaccounts/default/token",
                          method="POST", body={"apiVersion": "authentication.k8s.io/v1",
                                               "kind": "TokenRequest", "spec": {}})
    review = json.loads(body)
    assert status == 201 and review["status"]["token"].count(".") == 2
    status, _, _ = raw(sandbox, "/api/v1/namespaces/default/serviceaccounts/nope/token",
                       method="POST", body={"spec": {}})
    assert status == 404


def test_delete_dry_run_in_body_keeps_the_object(core: Any, sandbox: RunningSandbox) -> None:
    core.create_namespaced_config_map("default", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="keep")))
    core.delete_namespaced_config_map("keep", "default", dry_run="All")
    status, _, _ = raw(sandbox, "/api/v1/namespaces/default/configmaps/keep", method="DELETE",
                       body={"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]})
    assert status == 200
    assert sandbox.run(lambda: sandbox.store.get("", "configmaps", "default", "keep"))
    path = "/api/v1/namespaces/default/configmaps/keep"
    # Unreadable DeleteOptions fail closed: they might have carried dryRun.
    assert raw(sandbox, path, method="DELETE", body={"dryRun": ["All"]},
               content_type="application/vnd.kubernetes.protobuf")[0] == 415
    assert raw(sandbox, path, method="DELETE", body=["All"])[0] == 400
    assert sandbox.run(lambda: sandbox.store.get("", "configmaps", "default", "keep"))
    core.delete_namespaced_config_map("keep", "default")
    assert not sandbox.run(lambda: sandbox.store.get("", "configmaps", "default", "keep"))


def test_partial_object_metadata(sandbox: RunningSandbox) -> None:
    accept = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
    _, _, body = raw(sandbox, "/api/v1/namespaces", accept=accept)
    listed = json.loads(body)
    assert listed["kind"] == "PartialObjectMetadataList"
    assert {i["metadata"]["name"] for i in listed["items"]} == {
        "default", "kube-system", "kube-public"}
    assert all("spec" not in i for i in listed["items"])
    _, _, body = raw(sandbox, "/api/v1/namespaces/default",
                     accept="application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io")
    assert json.loads(body)["kind"] == "PartialObjectMetadata"


def test_version_api_uses_trailing_slash_path(sandbox: RunningSandbox,
                                              sandbox_kubeconfig: Path) -> None:
    api_client = config.new_client_from_config(config_file=str(sandbox_kubeconfig))
    try:
        info = client.VersionApi(api_client).get_code()
    finally:
        api_client.close()
    assert (info.major, info.minor) == ("1", "32")
    assert info.git_version.startswith("v1.32.")
    assert raw(sandbox, "/version/", token="wrong")[0] == 401   # as on a real server
    assert json.loads(raw(sandbox, "/version/")[2])["gitVersion"] == info.git_version


def test_review_with_an_undecodable_protobuf_body_is_refused(sandbox: RunningSandbox) -> None:
    code, _, body = raw(sandbox, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                        method="POST", body={"not": "protobuf"},
                        content_type="application/vnd.kubernetes.protobuf")
    assert code == 415 and json.loads(body)["reason"] == "UnsupportedMediaType"


def test_field_validation_directives(sandbox: RunningSandbox) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w", "labelz": {}},
            "dat": {}}
    code, headers, created = raw(sandbox, base, method="POST", body=body)
    assert code == 201 and headers["Warning"].startswith('299 - "unknown field')
    assert "dat" not in json.loads(created)
    code, _, reply = raw(sandbox, base + "/w?fieldValidation=Strict", method="PATCH",
                         body={"zzz": 1, "aaa": 2}, content_type="application/merge-patch+json")
    assert code == 400 and json.loads(reply)["message"] == (
        'strict decoding error: unknown field "aaa", unknown field "zzz"')
    code, _, reply = raw(sandbox, base + "?fieldValidation=Loose", method="POST", body=body)
    assert code == 422 and json.loads(reply)["message"].startswith(
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loose"')
    code, _, _ = raw(sandbox, base + "?fieldValidation=Ignore", method="POST",
                     body={**body, "metadata": {"name": "i"}})
    assert code == 201
