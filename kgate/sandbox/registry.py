"""The resource types the sandbox knows, loaded from real discovery data.

``data/api-resources.json`` holds the ``APIResourceList`` documents a real kube-apiserver (plus a
few common add-ons) served for 24 group/versions. Everything discovery answers comes from it, so
short names, categories, verbs and subresources match what kubectl has seen in the wild. Which of
those types the sandbox actually *stores* is a separate, smaller set (``STORED``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

# (group, resource) pairs whose objects the store keeps; the rest answer empty lists / 404.
STORED: frozenset[tuple[str, str]] = frozenset({
    ("", "namespaces"), ("", "pods"), ("", "services"), ("", "configmaps"), ("", "secrets"),
    ("", "serviceaccounts"), ("", "events"), ("", "endpoints"), ("", "nodes"),
    ("", "persistentvolumeclaims"), ("", "limitranges"), ("", "resourcequotas"),
    ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"),
    ("apps", "daemonsets"), ("apps", "controllerrevisions"),
    ("batch", "jobs"), ("batch", "cronjobs"),
    ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "rolebindings"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("networking.k8s.io", "ingresses"), ("networking.k8s.io", "networkpolicies"),
    ("events.k8s.io", "events"), ("policy", "poddisruptionbudgets"),
    ("coordination.k8s.io", "leases"), ("autoscaling", "horizontalpodautoscalers"),
    ("discovery.k8s.io", "endpointslices"), ("storage.k8s.io", "storageclasses"),
    ("scheduling.k8s.io", "priorityclasses"),
})

# Subresources whose body is a different kind than the parent (discovery v2 needs the GVK).
SUBRESOURCE_KINDS: dict[str, tuple[str, str, str]] = {
    "scale": ("autoscaling", "v1", "Scale"),
}



@dataclass(frozen=True)
class ResourceType:
    """One top-level resource of one group/version, as discovery describes it."""

    group: str
    version: str
    name: str                      # plural, e.g. "deployments"
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False,
                                                    hash=False)

    @property
    def group_version(self) -> str:
        """``v1`` for core, ``apps/v1`` otherwise (the ``apiVersion`` of its objects)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def stored(self) -> bool:
        """Whether the sandbox keeps objects of this type."""
        return (self.group, self.name) in STORED


@dataclass(frozen=True)
class GroupVersion:
    """A discovered group/version with its raw ``APIResourceList`` document."""

    group: str
    version: str
    document: dict[str, Any]
    resources: dict[str, ResourceType]


class Registry:
    """Lookup of resource types by group/version/plural and by kind."""

    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self.group_versions: list[GroupVersion] = []
        self.groups: dict[str, list[str]] = {}   # group -> versions, preferred first
        for doc in documents:
            gv = doc["groupVersion"]
            group, _, version = gv.rpartition("/")
            types: dict[str, ResourceType] = {}
            for res in doc["resources"]:
                base, _, sub = res["name"].partition("/")
                if sub:
                    types[base].subresources[sub] = res
                    continue
                types[base] = ResourceType(
                    group=group, version=version, name=base,
                    singular=res.get("singularName") or base,
                    kind=res["kind"], namespaced=bool(res["namespaced"]),
                    verbs=tuple(res.get("verbs", ())),
                    short_names=tuple(res.get("shortNames", ())),
                    categories=tuple(res.get("categories", ())),
                )
            self.group_versions.append(GroupVersion(group, version, doc, types))
            self.groups.setdefault(group, []).append(version)

    def group_version(self, group: str, version: str) -> GroupVersion | None:
        """The discovered group/version, or ``None``."""
        for gv in self.group_versions:
            if gv.group == group and gv.version == version:
                return gv
        return None

    def lookup(self, group: str, version: str, resource: str) -> ResourceType | None:
        """The resource type served at ``/apis/group/version/resource``, or ``None``."""
        gv = self.group_version(group, version)
        return gv.resources.get(resource) if gv else None

    def preferred(self, group: str, resource: str) -> ResourceType | None:
        """The type of ``resource`` in the group's preferred version."""
        for version in self.groups.get(group, []):
            rt = self.lookup(group, version, resource)
            if rt is not None:
                return rt
        return None


def load_documents() -> list[dict[str, Any]]:
    """Read the bundled discovery documents (a list of ``APIResourceList``)."""
    text = resources.files("kgate.sandbox").joinpath("data/api-resources.json").read_text()
    docs: list[dict[str, Any]] = json.loads(text)
    return docs


@cache
def default_registry() -> Registry:
    """The registry built from the bundled data (parsed once per process)."""
    return Registry(load_documents())
