"""Does a grant cover a request? Pure: the scope stage and ``kgate request``'s checks use it.

A request is named by verb, API group, resource, subresource and namespace (``""`` for
cluster-scoped or all-namespaces calls). Rules:
- the verb must be one of the grant's verbs;
- a namespaced call must be in one of the grant's namespaces; a call without a namespace passes
  only for a resource the grant names *and* that discovery said is cluster-scoped (so naming
  ``pods`` never lets ``kubectl get pods -A`` read every namespace);
- with no resources named, every resource in the namespaces is covered; otherwise one entry must
  match: ``pods`` (any group, any subresource), ``deployments.apps`` (that group),
  ``pods/log`` (that subresource only).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Call:
    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""


def entry_matches(entry: str, call: Call) -> bool:
    name, _, sub = entry.partition("/")
    plural, _, group = name.partition(".")
    if plural != call.resource:
        return False
    if group and group != call.group:
        return False
    return not sub or sub == call.subresource


def outside(namespaces: tuple[str, ...], verbs: tuple[str, ...], resources: tuple[str, ...],
            cluster_resources: tuple[str, ...], call: Call) -> str | None:
    """Why ``call`` is outside the grant (a phrase for the agent), or ``None`` if covered."""
    if call.verb not in verbs:
        return f"verb {call.verb} is not granted"
    if call.namespace:
        # The namespace object itself (GET /api/v1/namespaces/NS) is inside NS.
        if call.namespace not in namespaces:
            return f"namespace {call.namespace} is not granted"
        if resources and not any(entry_matches(e, call) for e in resources):
            return f"resource {_name(call)} is not granted"
        return None
    if not any(entry_matches(e, call) for e in cluster_resources):
        return (f"{_name(call)} across all namespaces or cluster-wide is not granted"
                if not resources or any(entry_matches(e, call) for e in resources)
                else f"cluster-scoped resource {_name(call)} is not granted")
    return None


def _name(call: Call) -> str:
    base = f"{call.resource}.{call.group}" if call.group else call.resource
    return f"{base}/{call.subresource}" if call.subresource else base
