"""Discovery documents: ``/version``, ``/api``, ``/apis``, per-group lists, aggregated v2.

kubectl 1.32 first asks ``/api`` and ``/apis`` for *aggregated* discovery
(``application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList``), which describes every
resource of every group in two responses; on a plain-JSON answer it falls back to
``/apis/<group>/<version>`` one by one. Both shapes are derived here from the same registry, so
they agree with each other and with the reference discovery data.
"""

from __future__ import annotations

from typing import Any

from kgate.sandbox.registry import SUBRESOURCE_KINDS, Registry, ResourceType

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

VERSION_INFO: dict[str, str] = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-kgate-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def wants_aggregated(accept: str) -> bool:
    """Whether an Accept header asks for aggregated discovery (v2) before anything else.

    kubectl lists the aggregated types first and plain JSON last; we serve v2 whenever it is
    acceptable at all, like kube-apiserver.
    """
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if ("g=apidiscovery.k8s.io" in params and "v=v2" in params
                and "as=APIGroupDiscoveryList" in params):
            return True
    return False


def api_versions(server_address: str) -> dict[str, Any]:
    """``/api`` (legacy form)."""
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group_doc(registry: Registry, group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in registry.groups[group]]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    """``/apis`` (legacy form): every named group with its versions."""
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_doc(registry, g) for g in registry.groups if g]}


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    """``/apis/<group>``, or ``None`` if unknown."""
    if not group or group not in registry.groups:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(registry, group)}


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """``/api/v1`` or ``/apis/<group>/<version>``: the reference ``APIResourceList``."""
    gv = registry.group_version(group, version)
    if gv is None:
        return None
    doc = dict(gv.document)
    doc["kind"], doc["apiVersion"] = "APIResourceList", "v1"
    return doc


def _resource_v2(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rt.name,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subs = []
    for name, raw in rt.subresources.items():
        group, version, kind = SUBRESOURCE_KINDS.get(name, (rt.group, rt.version, raw["kind"]))
        subs.append({"subresource": name,
                     "responseKind": {"group": group, "version": version, "kind": kind},
                     "verbs": list(raw.get("verbs", []))})
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(registry: Registry, *, core: bool) -> dict[str, Any]:
    """``APIGroupDiscoveryList`` for ``/api`` (core only) or ``/apis`` (named groups)."""
    items = []
    for group, versions in registry.groups.items():
        if (group == "") != core:
            continue
        item_versions = []
        for version in versions:
            gv = registry.group_version(group, version)
            assert gv is not None
            item_versions.append({"version": version,
                                  "resources": [_resource_v2(r) for r in gv.resources.values()],
                                  "freshness": "Current"})
        meta: dict[str, Any] = {"creationTimestamp": None}
        if group:
            meta["name"] = group
        items.append({"metadata": meta, "versions": item_versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": items}
