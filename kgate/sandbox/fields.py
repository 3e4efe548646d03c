"""Server-side field validation (``fieldValidation``) for top-level and ``metadata`` fields.

kubectl 1.32 sends ``fieldValidation=Strict`` on every create, update and patch, so a typo such
as ``dat:`` for ``data:`` or ``metadata.labelz`` must fail the way kube-apiserver fails it, not
be stored. Without ``Strict`` (the default is ``Warn``) kube drops the unknown field, and with
``Warn`` says so in a ``Warning`` header that kubectl prints. The check covers the top level of
every stored kind and ``metadata``; nested fields (``spec.replcas``) are not checked.

The messages are kube-apiserver's:

* create/update: ``<Kind> in version "<v>" cannot be handled as a <Kind>: strict decoding
  error: unknown field "x", unknown field "metadata.y"`` (400 BadRequest);
* patch (merge, strategic merge, JSON patch): ``strict decoding error: unknown field "x"``;
* server-side apply, whatever the directive: ``failed to create typed patch object (<ns>/<name>;
  <gv>, Kind=<Kind>): .x: field not declared in schema`` — a 500, as kube 1.32 sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from kgate.sandbox.apierrors import ApiError, bad_request
from kgate.sandbox.registry import ResourceType

Obj = dict[str, Any]

COMMON = frozenset({"apiVersion", "kind", "metadata"})
SPEC_STATUS = COMMON | {"spec", "status"}
SPEC_ONLY = COMMON | {"spec"}
_CORE_EVENT = COMMON | {
    "involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
    "type", "eventTime", "series", "action", "related", "reportingComponent", "reportingInstance"}
_EVENTS_EVENT = COMMON | {
    "eventTime", "series", "reportingController", "reportingInstance", "action", "reason",
    "regarding", "related", "note", "type", "deprecatedSource", "deprecatedFirstTimestamp",
    "deprecatedLastTimestamp", "deprecatedCount"}

# The top-level JSON fields of each stored kind (k8s.io/api v0.32 types).
TOP_LEVEL: dict[tuple[str, str], frozenset[str]] = {
    ("", "namespaces"): SPEC_STATUS, ("", "pods"): SPEC_STATUS, ("", "services"): SPEC_STATUS,
    ("", "nodes"): SPEC_STATUS, ("", "persistentvolumeclaims"): SPEC_STATUS,
    ("", "resourcequotas"): SPEC_STATUS, ("", "limitranges"): SPEC_ONLY,
    ("", "configmaps"): COMMON | {"data", "binaryData", "immutable"},
    ("", "secrets"): COMMON | {"data", "stringData", "type", "immutable"},
    ("", "serviceaccounts"): COMMON | {"secrets", "imagePullSecrets",
                                       "automountServiceAccountToken"},
    ("", "events"): _CORE_EVENT, ("", "endpoints"): COMMON | {"subsets"},
    ("apps", "deployments"): SPEC_STATUS, ("apps", "replicasets"): SPEC_STATUS,
    ("apps", "statefulsets"): SPEC_STATUS, ("apps", "daemonsets"): SPEC_STATUS,
    ("apps", "controllerrevisions"): COMMON | {"data", "revision"},
    ("batch", "jobs"): SPEC_STATUS, ("batch", "cronjobs"): SPEC_STATUS,
    ("rbac.authorization.k8s.io", "roles"): COMMON | {"rules"},
    ("rbac.authorization.k8s.io", "clusterroles"): COMMON | {"rules", "aggregationRule"},
    ("rbac.authorization.k8s.io", "rolebindings"): COMMON | {"subjects", "roleRef"},
    ("rbac.authorization.k8s.io", "clusterrolebindings"): COMMON | {"subjects", "roleRef"},
    ("networking.k8s.io", "ingresses"): SPEC_STATUS,
    ("networking.k8s.io", "networkpolicies"): SPEC_ONLY,
    ("events.k8s.io", "events"): _EVENTS_EVENT,
    ("policy", "poddisruptionbudgets"): SPEC_STATUS,
    ("coordination.k8s.io", "leases"): SPEC_ONLY,
    ("autoscaling", "horizontalpodautoscalers"): SPEC_STATUS,
    ("discovery.k8s.io", "endpointslices"): COMMON | {"addressType", "endpoints", "ports"},
    ("storage.k8s.io", "storageclasses"): COMMON | {
        "provisioner", "parameters", "reclaimPolicy", "mountOptions", "allowVolumeExpansion",
        "volumeBindingMode", "allowedTopologies"},
    ("scheduling.k8s.io", "priorityclasses"): COMMON | {
        "value", "globalDefault", "description", "preemptionPolicy"},
}

OBJECT_META = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields"})

DIRECTIVES = ("Strict", "Warn", "Ignore")


OPTIONS_KIND = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}


def directive(request: web.Request) -> str:
    """The request's ``fieldValidation`` (kube's default is ``Warn``); others are a 422."""
    value = request.query.get("fieldValidation", "") or "Warn"
    if value not in DIRECTIVES:
        options = OPTIONS_KIND.get(request.method, "CreateOptions")
        raise ApiError(422, f'{options}.meta.k8s.io "" is invalid: fieldValidation: Unsupported '
                       f'value: "{value}": supported values: "Ignore", "Strict", "Warn"')
    return value


def unknown_fields(rt: ResourceType, obj: Any) -> list[str]:
    """Dotted paths of unknown top-level and metadata fields, in document order."""
    allowed = TOP_LEVEL.get((rt.group, rt.name))
    if allowed is None or not isinstance(obj, dict):
        return []
    found: list[str] = []
    for key, value in obj.items():
        if key not in allowed:
            found.append(key)
        elif key == "metadata" and isinstance(value, dict):
            found.extend(f"metadata.{k}" for k in value if k not in OBJECT_META)
    return found


def _drop(obj: Obj, paths: list[str]) -> None:
    for path in paths:
        head, _, tail = path.partition(".")
        if tail:
            obj[head].pop(tail, None)
        else:
            obj.pop(head, None)


def _strict_message(paths: list[str]) -> str:
    return "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in paths)


def check_decoded(request: web.Request, rt: ResourceType, obj: Any) -> list[str]:
    """Validate a create/update body in place; returns Warning texts for dropped fields."""
    return _check(request, rt, obj, lambda message: bad_request(
        f"{_kind(rt, obj)} in version \"{_version(rt, obj)}\" cannot be handled as a "
        f"{rt.kind}: {message}"))


def check_patched(request: web.Request, rt: ResourceType, obj: Any) -> list[str]:
    """Validate the result of a merge, strategic-merge or JSON patch in place.

    kube decodes the patched object from a Go map, so fields are reported in sorted order.
    """
    return _check(request, rt, obj, bad_request, ordered=sorted)


def check_applied(rt: ResourceType, namespace: str | None, name: str, config: Any) -> None:
    """Server-side apply converts the configuration to a typed object: unknown fields fail."""
    paths = unknown_fields(rt, config)
    if not paths:
        return
    errors = [f".{p}: field not declared in schema" for p in paths]
    detail = errors[0] if len(errors) == 1 else "\n  ".join(["errors:", *errors])
    # Go's GroupVersionKind.String(): "/v1, Kind=ConfigMap", "apps/v1, Kind=Deployment".
    err = ApiError(500, f"failed to create typed patch object ({namespace or ''}/{name}; "
                   f"{rt.group}/{rt.version}, Kind={rt.kind}): {detail}")
    del err.body["reason"]       # kube sends this plain error without a reason
    raise err


def _check(request: web.Request, rt: ResourceType, obj: Any,
           refuse: Callable[[str], ApiError],
           ordered: Callable[[list[str]], list[str]] = list) -> list[str]:
    mode = directive(request)
    paths = ordered(unknown_fields(rt, obj))
    if not paths:
        return []
    if mode == "Strict":
        raise refuse(_strict_message(paths))
    _drop(obj, paths)
    return [f'unknown field "{p}"' for p in paths] if mode == "Warn" else []


def add_warnings(resp: web.StreamResponse, warnings: list[str]) -> web.StreamResponse:
    """RFC 7234 ``Warning: 299 - "<text>"`` headers, which kubectl prints as ``Warning: …``."""
    for text in warnings:
        quoted = text.replace("\\", "\\\\").replace('"', '\\"')
        resp.headers.add("Warning", f'299 - "{quoted}"')
    return resp


def _kind(rt: ResourceType, obj: Any) -> str:
    kind = obj.get("kind") if isinstance(obj, dict) else None
    return kind if isinstance(kind, str) and kind else rt.kind


def _version(rt: ResourceType, obj: Any) -> str:
    api_version = obj.get("apiVersion") if isinstance(obj, dict) else None
    if isinstance(api_version, str) and api_version:
        return api_version.rpartition("/")[2]
    return rt.version
