"""Which resources the target cluster serves, so ``kgate request`` refuses a typo before a human
approves a grant that covers nothing.

Pure where it can be: ``Catalog.from_aggregated`` reads the cluster's aggregated discovery
documents (``/api`` and ``/apis``, ``apidiscovery.k8s.io/v2``) and ``Catalog.resolve`` turns what
the user typed (``pods``, ``po``, ``deploy``, ``deployments.apps``, ``pods/log``) into the
canonical entry the grant stores, and says whether it is cluster-scoped (as the first group
serving that name has it, like kubectl's own resolution). The fetching is passed
in (the CLI fetches with the user's kubeconfig credential).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kgate.grants.model import GrantInvalid

AGGREGATED_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                     "application/json")
Fetch = Callable[[str], Mapping[str, Any]]


@dataclass(frozen=True)
class ServedResource:
    group: str
    plural: str
    namespaced: bool
    aliases: frozenset[str]
    subresources: frozenset[str]


@dataclass
class Catalog:
    resources: list[ServedResource] = field(default_factory=list)

    @classmethod
    def from_aggregated(cls, docs: Iterable[Mapping[str, Any]]) -> Catalog:
        catalog = cls()
        for doc in docs:
            if doc.get("kind") != "APIGroupDiscoveryList":
                raise GrantInvalid("the cluster did not answer aggregated discovery "
                                   "(apidiscovery.k8s.io/v2), which kgate needs to check "
                                   "--resource", hint="omit --resource to grant every "
                                                      "namespaced resource")
            for item in doc.get("items") or []:
                group = (item.get("metadata") or {}).get("name", "") or ""
                for version in item.get("versions") or []:
                    for res in version.get("resources") or []:
                        plural = res.get("resource", "")
                        aliases = {plural, res.get("singularResource") or "",
                                   *(res.get("shortNames") or [])} - {""}
                        catalog.resources.append(ServedResource(
                            group=group, plural=plural,
                            namespaced=res.get("scope") != "Cluster",
                            aliases=frozenset(a.lower() for a in aliases),
                            subresources=frozenset(s.get("subresource", "") for s in
                                                   res.get("subresources") or [])))
        return catalog

    def resolve(self, typed: str) -> tuple[str, bool]:
        """(canonical grant entry, is cluster-scoped) for ``typed``; ``GrantInvalid`` if unknown."""
        name, _, sub = typed.strip().lower().partition("/")
        alias, _, group = name.partition(".")
        found = [r for r in self.resources
                 if alias in r.aliases and (not group or r.group == group)]
        if not found:
            raise GrantInvalid(f"the cluster serves no resource {typed!r}",
                               hint="'kubectl api-resources' lists what it serves")
        # Like kubectl, a name several groups serve means the first in discovery order (core
        # first, then the cluster's group priority); the entry without a group covers them all.
        served = found[0]
        if sub and sub not in served.subresources:
            raise GrantInvalid(f"{served.plural} has no subresource {sub!r}",
                               hint=f"it has {', '.join(sorted(served.subresources)) or 'none'}")
        entry = f"{served.plural}.{served.group}" if group else served.plural
        return (f"{entry}/{sub}" if sub else entry), not served.namespaced


def fetch_catalog(fetch: Fetch) -> Catalog:
    return Catalog.from_aggregated([fetch("/api"), fetch("/apis")])
