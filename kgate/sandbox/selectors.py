"""Label and field selectors, parsed the way kube-apiserver parses the query strings.

Label selectors support ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``
(exists) and ``!k`` (does not exist). Field selectors support ``=``, ``==`` and ``!=`` on the few
fields the real server indexes for the stored kinds (``metadata.name``, ``metadata.namespace``,
``status.phase``, ``spec.nodeName``, ``type`` …); anything else is a 400, as upstream says
``field label not supported``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_CMP_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*([A-Za-z0-9_.-]*)\s*$")


class SelectorError(ValueError):
    """A selector string that cannot be parsed (answered as 400 BadRequest)."""


@dataclass(frozen=True)
class Requirement:
    """One clause of a label selector."""

    key: str
    op: str                      # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this clause."""
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        # "!=" and "notin" match objects without the label, as upstream does.
        return not present or value not in self.values


def _split_clauses(text: str) -> list[str]:
    """Split on commas that are not inside ``( … )``."""
    clauses: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            clauses.append("".join(current))
            current = []
        else:
            current.append(ch)
    clauses.append("".join(current))
    return [c for c in (c.strip() for c in clauses) if c]


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse ``?labelSelector=``; raise ``SelectorError`` on malformed input."""
    if not text:
        return []
    reqs: list[Requirement] = []
    for clause in _split_clauses(text):
        cmp = _CMP_RE.match(clause)
        if cmp:
            key, op, value = cmp.groups()
            reqs.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
            continue
        m = _SET_RE.match(clause)
        if not m:
            raise SelectorError(f"unable to parse requirement: {clause!r}")
        bang, key, setop, values = m.groups()
        if setop:
            if bang:
                raise SelectorError(f"unable to parse requirement: {clause!r}")
            vals = tuple(v.strip() for v in values.split(",") if v.strip())
            reqs.append(Requirement(key, setop, vals))
        else:
            reqs.append(Requirement(key, "!" if bang else "exists"))
    return reqs


def labels_match(reqs: list[Requirement], obj: Mapping[str, Any]) -> bool:
    """Whether an object's ``metadata.labels`` satisfy every requirement."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(r.matches(labels) for r in reqs)


def _path(obj: Mapping[str, Any], dotted: str) -> str:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


# Field selector keys the real server accepts, per resource (all accept metadata.*).
FIELD_LABELS: dict[str, frozenset[str]] = {
    "pods": frozenset({"status.phase", "spec.nodeName", "spec.restartPolicy",
                       "spec.schedulerName", "spec.serviceAccountName", "status.podIP",
                       "status.nominatedNodeName", "spec.hostNetwork"}),
    "secrets": frozenset({"type"}),
    "events": frozenset({"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                         "involvedObject.uid", "involvedObject.apiVersion",
                         "involvedObject.resourceVersion", "involvedObject.fieldPath",
                         "reason", "reportingComponent", "source", "type"}),
    "namespaces": frozenset({"status.phase"}),
    "replicasets": frozenset({"status.replicas"}),
    "jobs": frozenset({"status.successful"}),
    "nodes": frozenset({"spec.unschedulable"}),
}


@dataclass(frozen=True)
class FieldRequirement:
    """One clause of a field selector."""

    field: str
    equal: bool
    value: str


def parse_field_selector(text: str | None, resource: str) -> list[FieldRequirement]:
    """Parse ``?fieldSelector=`` for ``resource``; unknown fields raise ``SelectorError``."""
    if not text:
        return []
    allowed = FIELD_LABELS.get(resource, frozenset()) | {"metadata.name", "metadata.namespace"}
    reqs = []
    for clause in _split_clauses(text):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", clause)
        if not m:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{clause}'")
        field, op, value = m.groups()
        if field not in allowed:
            raise SelectorError(f'field label not supported: {field}')
        reqs.append(FieldRequirement(field, op != "!=", value))
    return reqs


def fields_match(reqs: list[FieldRequirement], obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` satisfies every field requirement."""
    for req in reqs:
        actual = _path(obj, req.field)
        if req.field == "spec.hostNetwork" and not actual:
            actual = "false"
        if (actual == req.value) != req.equal:
            return False
    return True


def make_filter(label_selector: str | None, field_selector: str | None,
                resource: str) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate combining both selectors (parsing errors surface immediately)."""
    labels = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector, resource)

    def predicate(obj: Mapping[str, Any]) -> bool:
        return labels_match(labels, obj) and fields_match(fields, obj)

    return predicate
