"""The request parser agrees with kube-apiserver's RequestInfoFactory, row by row."""

from __future__ import annotations

import pytest

from kgate.proxy.attributes import NonCanonicalPath, parse_request

# method, path, query -> verb, group, version, namespace, resource, subresource, name
RESOURCE_CASES = [
    ("GET", "/api/v1/namespaces/default/pods", "", "list", "", "v1", "default", "pods", "", ""),
    ("GET", "/api/v1/namespaces/default/pods/p1", "", "get", "", "v1", "default", "pods", "", "p1"),
    ("HEAD", "/api/v1/namespaces/default/pods/p1", "", "get", "", "v1", "default", "pods", "",
     "p1"),
    ("GET", "/api/v1/pods", "", "list", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/pods", "watch=true", "watch", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/pods", "watch=1", "watch", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/pods", "watch=True", "watch", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/pods", "watch=false", "list", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/pods", "watch=0", "list", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/pods", "watch=yes", "list", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/namespaces/ns/pods", "watch=1&fieldSelector=metadata.name%3Dp1", "watch",
     "", "v1", "ns", "pods", "", "p1"),
    ("GET", "/api/v1/namespaces/ns/pods", "fieldSelector=metadata.name%3D%3Dp1", "list",
     "", "v1", "ns", "pods", "", "p1"),
    ("GET", "/api/v1/namespaces/ns/pods", "fieldSelector=metadata.name!%3Dp1", "list",
     "", "v1", "ns", "pods", "", ""),
    ("GET", "/api/v1/watch/pods", "", "watch", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/watch/namespaces/ns/pods", "", "watch", "", "v1", "ns", "pods", "", ""),
    ("GET", "/api/v1/watch/namespaces/ns/pods/p1", "", "watch", "", "v1", "ns", "pods", "", "p1"),
    ("GET", "/apis/apps/v1/watch/namespaces/ns/deployments", "", "watch", "apps", "v1", "ns",
     "deployments", "", ""),
    ("POST", "/api/v1/namespaces/ns/pods", "", "create", "", "v1", "ns", "pods", "", ""),
    ("PUT", "/api/v1/namespaces/ns/pods/p1", "", "update", "", "v1", "ns", "pods", "", "p1"),
    ("PATCH", "/api/v1/namespaces/ns/pods/p1", "", "patch", "", "v1", "ns", "pods", "", "p1"),
    ("DELETE", "/api/v1/namespaces/ns/pods/p1", "", "delete", "", "v1", "ns", "pods", "", "p1"),
    ("DELETE", "/api/v1/namespaces/ns/pods", "", "deletecollection", "", "v1", "ns", "pods", "",
     ""),
    ("OPTIONS", "/api/v1/namespaces/ns/pods", "", "", "", "v1", "ns", "pods", "", ""),
    ("GET", "/api/v1/namespaces/ns/pods/p1/log", "follow=true", "get", "", "v1", "ns", "pods",
     "log", "p1"),
    ("PUT", "/api/v1/namespaces/ns/pods/p1/status", "", "update", "", "v1", "ns", "pods",
     "status", "p1"),
    ("GET", "/api/v1/namespaces/ns/pods/p1/exec", "command=ls", "create", "", "v1", "ns", "pods",
     "exec", "p1"),
    ("POST", "/api/v1/namespaces/ns/pods/p1/exec", "command=ls", "create", "", "v1", "ns",
     "pods", "exec", "p1"),
    ("GET", "/api/v1/namespaces/ns/pods/p1/attach", "", "create", "", "v1", "ns", "pods",
     "attach", "p1"),
    ("GET", "/api/v1/namespaces/ns/pods/p1/portforward", "ports=80", "create", "", "v1", "ns",
     "pods", "portforward", "p1"),
    ("GET", "/api/v1/namespaces/ns/pods/p1/proxy/x/y", "", "get", "", "v1", "ns", "pods",
     "proxy", "p1"),
    ("GET", "/api/v1/proxy/namespaces/ns/pods/p1/x", "", "proxy", "", "v1", "ns", "pods", "",
     "p1"),
    ("GET", "/api/v1/namespaces", "", "list", "", "v1", "", "namespaces", "", ""),
    ("GET", "/api/v1/namespaces/ns", "", "get", "", "v1", "ns", "namespaces", "", "ns"),
    ("DELETE", "/api/v1/namespaces/ns", "", "delete", "", "v1", "ns", "namespaces", "", "ns"),
    ("PUT", "/api/v1/namespaces/ns/status", "", "update", "", "v1", "ns", "namespaces", "status",
     "ns"),
    ("PUT", "/api/v1/namespaces/ns/finalize", "", "update", "", "v1", "ns", "namespaces",
     "finalize", "ns"),
    ("GET", "/api/v1/nodes/n1", "", "get", "", "v1", "", "nodes", "", "n1"),
    ("GET", "/apis/apps/v1/namespaces/ns/deployments/d1/scale", "", "get", "apps", "v1", "ns",
     "deployments", "scale", "d1"),
    ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles", "", "list",
     "rbac.authorization.k8s.io", "v1", "", "clusterroles", "", ""),
    ("POST", "/api/v1/namespaces/ns/serviceaccounts/sa/token", "", "create", "", "v1", "ns",
     "serviceaccounts", "token", "sa"),
    ("GET", "/api/v1/namespaces/ns/pods/", "", "list", "", "v1", "ns", "pods", "", ""),
    ("GET", "/api/v1/namespaces/ns/pods/my%20pod", "", "get", "", "v1", "ns", "pods", "",
     "my pod"),
]


@pytest.mark.parametrize(
    "method,path,query,verb,group,version,namespace,resource,subresource,name", RESOURCE_CASES)
def test_resource_requests(method: str, path: str, query: str, verb: str, group: str,
                           version: str, namespace: str, resource: str, subresource: str,
                           name: str) -> None:
    attrs = parse_request(method, path, query)
    assert attrs.is_resource
    got = (attrs.verb, attrs.api_group, attrs.api_version, attrs.namespace, attrs.resource,
           attrs.subresource, attrs.name)
    assert got == (verb, group, version, namespace, resource, subresource, name)


@pytest.mark.parametrize("method,path,verb", [
    ("GET", "/api", "get"), ("GET", "/api/v1", "get"), ("GET", "/apis", "get"),
    ("GET", "/apis/apps", "get"), ("GET", "/apis/apps/v1", "get"), ("GET", "/version", "get"),
    ("GET", "/openapi/v2", "get"), ("GET", "/openapi/v3/apis/apps/v1", "get"),
    ("GET", "/healthz", "get"), ("GET", "/livez", "get"), ("GET", "/readyz", "get"),
    ("POST", "/logs", "post"), ("GET", "/", "get"), ("GET", "/foo/bar/baz", "get"),
])
def test_non_resource_requests(method: str, path: str, verb: str) -> None:
    attrs = parse_request(method, path, "")
    assert not attrs.is_resource
    assert attrs.verb == verb
    assert attrs.resource == ""


@pytest.mark.parametrize("path", [
    "/api/v1/namespaces/default/pods/../secrets",
    "/api/v1/namespaces/default/./secrets",
    "/api/v1//namespaces/default/secrets",
    "/api/v1/namespaces/default/pods%2F..%2Fsecrets",
    "/api/v1/namespaces/default/pods/%2e%2e/secrets",
    "/api/v1/namespaces/default/pods/%2E",
    "/api/v1/namespaces/default\\secrets",
    "/api/v1/namespaces/default/pods/a%5cb",
    "/api/v1/namespaces/default/pods/a%00",
    "/api/v1/namespaces/default/pods/a\x00",
    "api/v1/pods",
    "/..",
    "/api/v1/watch",
    "/api/v1/namespaces/default/secrets#x",  # policy would see resource "secrets#x"
])
def test_non_canonical_paths_are_refused(path: str) -> None:
    with pytest.raises(NonCanonicalPath):
        parse_request("GET", path, "")


def test_query_attributes() -> None:
    attrs = parse_request("PATCH", "/api/v1/namespaces/ns/secrets/s1",
                          "dryRun=All&fieldManager=kubectl&labelSelector=app%3Dweb")
    assert attrs.dry_run and attrs.field_manager == "kubectl"
    assert attrs.label_selector == "app=web"
    assert attrs.group_resource == "secrets"
    assert not parse_request("GET", "/api/v1/pods", "").dry_run
    assert parse_request("GET", "/apis/apps/v1/namespaces/n/deployments/d/scale",
                         "").group_resource == "deployments.apps/scale"


def test_stream_flags() -> None:
    assert parse_request("GET", "/api/v1/namespaces/n/pods/p/exec", "").is_exec_like
    assert parse_request("GET", "/api/v1/namespaces/n/pods/p/log", "").is_pod_logs
    assert parse_request("GET", "/api/v1/pods", "watch=1").is_watch
    assert not parse_request("GET", "/apis/x/v1/namespaces/n/pods/p/exec", "").is_exec_like


def test_a_repeated_request_is_parsed_the_same_and_a_bad_path_is_refused_every_time() -> None:
    first = parse_request("GET", "/api/v1/namespaces/ns/secrets", "watch=1")
    again = parse_request("GET", "/api/v1/namespaces/ns/secrets", "watch=1")
    assert again == first and again.verb == "watch"
    assert parse_request("get", "/api/v1/namespaces/ns/secrets", "").verb == "list"
    for _ in range(2):
        with pytest.raises(NonCanonicalPath):
            parse_request("GET", "/api/v1/namespaces/ns/../kube-system/secrets")


def test_the_parse_cache_stays_bounded_and_answers_each_path_for_itself() -> None:
    from kgate.proxy import attributes

    for i in range(attributes._CACHE_SIZE * 2):
        attrs = parse_request("GET", f"/api/v1/namespaces/ns/configmaps/cm-{i}")
        assert attrs.name == f"cm-{i}"
        assert len(attributes._cache) <= attributes._CACHE_SIZE
    long_name = "x" * attributes._CACHE_KEY_MAX
    assert parse_request("GET", f"/api/v1/namespaces/ns/pods/{long_name}").name == long_name
    assert all(len(key[1]) <= attributes._CACHE_KEY_MAX for key in attributes._cache)
