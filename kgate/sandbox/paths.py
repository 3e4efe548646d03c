"""What a Kubernetes resource URL names: pure parsing of ``/api/v1/namespaces/ns/pods/x/log``.

The path alone decides the resource type, namespace, name and subresource; the verb comes from
the method and query. Parsing against the ``Registry`` (not a fixed list) is what makes every
discovered resource addressable, stored or not.
"""

from __future__ import annotations

from dataclasses import dataclass

from kgate.sandbox.registry import Registry, ResourceType


@dataclass
class Target:
    """What a resource URL names."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_path: bool


def parse_target(registry: Registry, path: str) -> Target | None:
    """Parse ``/api/v1/…`` or ``/apis/g/v/…``; ``None`` if the path names no known resource."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch_path = bool(rest) and rest[0] == "watch"
    if watch_path:
        rest = rest[1:]
    gv = registry.group_version(group, version)
    if gv is None or not rest:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] in gv.resources \
            and gv.resources[rest[2]].namespaced:
        namespace, rest = rest[1], rest[2:]
    rt = gv.resources.get(rest[0])
    if rt is None or len(rest) > 3:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in rt.subresources:
        return None
    if rt.namespaced and namespace is None and name is not None:
        return None
    return Target(rt, namespace, name, sub, watch_path)
