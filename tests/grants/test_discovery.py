"""Resolving what the user typed against the cluster's aggregated discovery."""

from __future__ import annotations

import pytest

from kgate.grants.discovery import Catalog
from kgate.grants.model import GrantInvalid


def _res(name: str, singular: str, scope: str, short: list[str] | None = None,
         subs: tuple[str, ...] = ()) -> dict[str, object]:
    return {"resource": name, "singularResource": singular, "scope": scope,
            "shortNames": short or [], "subresources": [{"subresource": s} for s in subs]}


CORE = {"kind": "APIGroupDiscoveryList", "items": [{"metadata": {}, "versions": [{
    "version": "v1", "resources": [_res("pods", "pod", "Namespaced", ["po"], ("log", "exec")),
                                   _res("nodes", "node", "Cluster", ["no"])]}]}]}
GROUPS = {"kind": "APIGroupDiscoveryList", "items": [
    {"metadata": {"name": "apps"}, "versions": [{"version": "v1", "resources": [
        _res("deployments", "deployment", "Namespaced", ["deploy"])]}]},
    {"metadata": {"name": "metrics.k8s.io"}, "versions": [{"version": "v1beta1", "resources": [
        _res("pods", "pod", "Namespaced")]}]}]}


@pytest.mark.parametrize("typed,entry,cluster", [
    ("pods", "pods", False), ("po", "pods", False), ("Pod", "pods", False),
    ("pods/log", "pods/log", False), ("deploy", "deployments", False),
    ("deployments.apps", "deployments.apps", False), ("no", "nodes", True),
    ("pods.metrics.k8s.io", "pods.metrics.k8s.io", False),
])
def test_resolve(typed: str, entry: str, cluster: bool) -> None:
    assert Catalog.from_aggregated([CORE, GROUPS]).resolve(typed) == (entry, cluster)


@pytest.mark.parametrize("typed,message", [
    ("podz", "serves no resource 'podz'"), ("deployments.batch", "serves no resource"),
    ("pods/attachz", "has no subresource 'attachz'"),
])
def test_unknown(typed: str, message: str) -> None:
    with pytest.raises(GrantInvalid, match=message):
        Catalog.from_aggregated([CORE, GROUPS]).resolve(typed)


def test_a_cluster_without_aggregated_discovery_is_refused_plainly() -> None:
    with pytest.raises(GrantInvalid, match="aggregated discovery"):
        Catalog.from_aggregated([{"kind": "APIVersions"}])
