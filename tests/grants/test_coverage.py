"""Scope matching: table tests of the rules and properties an attacker would probe."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kgate.grants.coverage import Call, outside
from kgate.proxy.attributes import parse_request

NS = ("payments",)
READ = ("get", "list", "watch")


def _call(method: str, path: str, query: str = "") -> Call:
    a = parse_request(method, path, query)
    return Call(a.verb, a.api_group, a.resource, a.subresource, a.namespace)


@pytest.mark.parametrize("method,path,query,resources,cluster,covered", [
    ("GET", "/api/v1/namespaces/payments/pods", "", (), (), True),
    ("GET", "/api/v1/namespaces/payments/pods", "watch=1", (), (), True),
    ("GET", "/api/v1/namespaces/other/pods", "", (), (), False),
    ("GET", "/api/v1/pods", "", (), (), False),                      # -A: every namespace
    ("GET", "/api/v1/pods", "", ("pods",), (), False),               # naming pods is not -A
    ("DELETE", "/api/v1/namespaces/payments/pods/x", "", (), (), False),
    ("GET", "/api/v1/namespaces/payments/pods/x/log", "", ("pods",), (), True),
    ("GET", "/api/v1/namespaces/payments/pods/x/log", "", ("pods/log",), (), True),
    ("GET", "/api/v1/namespaces/payments/pods/x", "", ("pods/log",), (), False),
    ("GET", "/apis/apps/v1/namespaces/payments/deployments", "", ("deployments.apps",), (),
     True),
    ("GET", "/apis/extensions/v1/namespaces/payments/deployments", "",
     ("deployments.apps",), (), False),
    ("GET", "/api/v1/namespaces/payments/secrets", "", ("pods",), (), False),
    ("GET", "/api/v1/nodes", "", (), (), False),
    ("GET", "/api/v1/nodes", "", ("nodes",), ("nodes",), True),
    ("GET", "/api/v1/namespaces", "", (), (), False),
    ("GET", "/api/v1/namespaces/payments", "", (), (), True),        # its own namespace object
    ("GET", "/api/v1/namespaces/other", "", (), (), False),
])
def test_table(method: str, path: str, query: str, resources: tuple[str, ...],
               cluster: tuple[str, ...], covered: bool) -> None:
    why = outside(NS, READ, resources, cluster, _call(method, path, query))
    assert (why is None) == covered, why


names = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
verbs = st.sampled_from(["get", "list", "watch", "create", "update", "patch", "delete",
                         "deletecollection"])


@given(ns=st.lists(names, min_size=1, max_size=3), granted=st.lists(verbs, min_size=1),
       call_ns=names, verb=verbs, resource=names, group=st.sampled_from(["", "apps", "batch"]))
def test_never_outside_the_namespaces_or_verbs(ns: list[str], granted: list[str], call_ns: str,
                                               verb: str, resource: str, group: str) -> None:
    why = outside(tuple(ns), tuple(granted), (), (),
                  Call(verb, group, resource, namespace=call_ns))
    if why is None:
        assert call_ns in ns and verb in granted


@given(resources=st.lists(names, max_size=3), cluster=st.lists(names, max_size=2),
       verb=verbs, resource=names)
def test_no_namespace_needs_a_named_cluster_resource(resources: list[str], cluster: list[str],
                                                     verb: str, resource: str) -> None:
    why = outside(("a",), (verb,), tuple(resources), tuple(cluster), Call(verb, "", resource))
    assert (why is None) == (resource in cluster)
