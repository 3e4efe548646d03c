"""The sandbox's object store: objects, one resourceVersion counter, and watch fan-out.

Everything here runs on the server's event-loop thread, so there are no locks: a write, its
resourceVersion bump, the history entry and the fan-out to open watches happen in one synchronous
step. Objects are kept per ``(group, resource)`` independent of API version, like etcd storage.
Failures are ``ApiError``s carrying the exact ``Status`` kube-apiserver would send, so kubectl
prints the same messages (``pods "x" not found``, ``… already exists``, ``Operation cannot be
fulfilled …``, ``The ConfigMap "Bad" is invalid: …``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import copy
import datetime as dt
import random
import re
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kgate.sandbox.registry import ResourceType
from kgate.status import status

Obj = dict[str, Any]
Listener = Callable[["WatchEvent"], None]

HISTORY_SIZE = 5000
NODE_PORT_MIN, NODE_PORT_MAX = 30000, 32767
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
# Kinds whose names must be DNS labels rather than subdomains.
_LABEL_NAMED = frozenset({("", "namespaces"), ("", "services")})


class ApiError(Exception):
    """A request failure with the ``Status`` body kube-apiserver would answer."""

    def __init__(self, code: int, message: str, *, reason: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.body = status(code, message, reason=reason, details=details)


def qualified(rt: ResourceType) -> str:
    """``pods`` or ``deployments.apps``: how kube names a resource in messages."""
    return f"{rt.name}.{rt.group}" if rt.group else rt.name


def _details(rt: ResourceType, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if rt.group:
        out["group"] = rt.group
    out["kind"] = rt.name
    return out


def not_found(rt: ResourceType, name: str) -> ApiError:
    """404 ``<resource> "<name>" not found``."""
    return ApiError(404, f'{qualified(rt)} "{name}" not found', details=_details(rt, name))


def namespace_not_found(namespace: str) -> ApiError:
    """404 for a write into a namespace that does not exist."""
    return ApiError(404, f'namespaces "{namespace}" not found',
                    details={"name": namespace, "kind": "namespaces"})


def invalid(rt: ResourceType, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 ``The Kind "name" is invalid: field: message`` (causes: field, reason, message)."""
    parts = [f"{f}: {m}" for f, _, m in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details = {"name": name, "group": rt.group, "kind": rt.kind,
               "causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]}
    if not rt.group:
        del details["group"]
    return ApiError(422, f'{rt.kind} "{name}" is invalid: {joined}', details=details)


def bad_request(message: str) -> ApiError:
    """400 BadRequest."""
    return ApiError(400, message)


@dataclass
class WatchEvent:
    """One change: ``type`` is ADDED, MODIFIED or DELETED; ``obj`` is a private copy.

    ``old`` is the object before a MODIFIED change, so that a selector-filtered watch can tell
    an object entering its selection (ADDED) from one changing inside it (MODIFIED).
    """

    rv: int
    group: str
    resource: str
    type: str
    obj: Obj
    old: Obj | None = None


@dataclass(eq=False)
class Watcher:
    """An open watch: events land in ``queue``; ``None`` means the store closed it."""

    group: str
    resource: str
    namespace: str | None
    queue: asyncio.Queue[WatchEvent | None] = field(default_factory=asyncio.Queue)


def now_rfc3339() -> str:
    """Current UTC time in the second-precision form Kubernetes timestamps use."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


def _strip_for_generation(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Store:
    """All objects of the sandbox, keyed by (group, resource) then (namespace, name)."""

    def __init__(self) -> None:
        self._objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self._rv = 1
        self._history: deque[WatchEvent] = deque(maxlen=HISTORY_SIZE)
        self._watchers: set[Watcher] = set()
        self._listeners: list[Listener] = []
        self._next_ip = 1
        self._next_node_port = NODE_PORT_MIN

    def allocate_cluster_ip(self) -> str:
        """A fresh Service ClusterIP from 10.96.0.0/12 (deterministic order)."""
        self._next_ip += 1
        return f"10.96.{self._next_ip // 250}.{self._next_ip % 250 + 1}"

    def node_ports_in_use(self, exclude: tuple[str, str]) -> set[int]:
        """nodePorts held by Services other than ``exclude`` (namespace, name)."""
        return {int(p["nodePort"])
                for key, svc in self._objects.get(("", "services"), {}).items() if key != exclude
                for p in (svc.get("spec") or {}).get("ports") or []
                if isinstance(p, dict) and isinstance(p.get("nodePort"), int)}

    def allocate_node_port(self, used: set[int]) -> int:
        """The next port of 30000-32767 not in ``used``, in order (kube picks at random)."""
        span = NODE_PORT_MAX - NODE_PORT_MIN + 1
        for _ in range(span):
            port = self._next_node_port
            self._next_node_port = NODE_PORT_MIN + (port + 1 - NODE_PORT_MIN) % span
            if port not in used:
                return port
        raise ApiError(500, "Internal error occurred: failed to allocate a nodePort: range is "
                       "full")

    # ---- reading ------------------------------------------------------------------------
    @property
    def resource_version(self) -> str:
        """The current global resourceVersion (what a List reports)."""
        return str(self._rv)

    def get(self, group: str, resource: str, namespace: str | None, name: str) -> Obj | None:
        """A deep copy of one object, or ``None``."""
        obj = self._objects.get((group, resource), {}).get((namespace or "", name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, group: str, resource: str, namespace: str | None = None) -> list[Obj]:
        """Deep copies of all objects of a type (in one namespace if given), sorted by key."""
        bucket = self._objects.get((group, resource), {})
        keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
        return [copy.deepcopy(bucket[k]) for k in keys]

    def namespace_exists(self, namespace: str) -> bool:
        """Whether the Namespace object exists."""
        return ("", namespace) in self._objects.get(("", "namespaces"), {})

    # ---- writing ------------------------------------------------------------------------
    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _emit(self, group: str, resource: str, type_: str, obj: Obj,
              old: Obj | None = None) -> None:
        # ``old`` has just been replaced in its bucket and is never mutated again: no copy.
        event = WatchEvent(int(obj["metadata"]["resourceVersion"]), group, resource, type_,
                           copy.deepcopy(obj), old)
        self._history.append(event)
        ns = obj["metadata"].get("namespace")
        for w in list(self._watchers):
            if w.group == group and w.resource == resource and (
                    w.namespace is None or w.namespace == ns):
                w.queue.put_nowait(event)
        for listener in list(self._listeners):
            listener(event)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` after every committed change (used by the fake controllers)."""
        self._listeners.append(listener)

    def _validate_name(self, rt: ResourceType, obj: Obj) -> None:
        meta = obj["metadata"]
        name = meta.get("name") or ""
        if not name:
            raise invalid(rt, "", [("metadata.name", "FieldValueRequired",
                                    "Required value: name or generateName is required")])
        label = (rt.group, rt.name) in _LABEL_NAMED
        pattern, msg, limit = ((_LABEL, _LABEL_MSG, 63) if label
                               else (_SUBDOMAIN, _SUBDOMAIN_MSG, 253))
        if not pattern.match(name):
            raise invalid(rt, name, [("metadata.name", "FieldValueInvalid",
                                      f'Invalid value: "{name}": {msg}')])
        if len(name) > limit:
            raise invalid(rt, name, [("metadata.name", "FieldValueInvalid",
                                      f'Invalid value: "{name}": must be no more than '
                                      f"{limit} characters")])

    def _prepare(self, rt: ResourceType, namespace: str | None, obj: Obj) -> Obj:
        """Shape-check a request object, fix apiVersion/kind and namespace."""
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was in an unknown format")
        obj = copy.deepcopy(obj)
        kind = obj.get("kind")
        if kind and kind != rt.kind:
            raise bad_request(f'{kind} in version "{rt.version}" cannot be handled as a '
                              f"{rt.kind}: the kind does not match the URL")
        obj["apiVersion"], obj["kind"] = rt.group_version, rt.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise bad_request(f"{rt.kind} in version \"{rt.version}\" cannot be handled as a "
                              f"{rt.kind}: metadata must be an object")
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            meta["namespace"] = namespace or body_ns or "default"
        else:
            meta.pop("namespace", None)
        if rt.kind == "Secret":
            _fold_secret(rt, obj)
        return obj

    def _check_namespace(self, rt: ResourceType, obj: Obj) -> None:
        if rt.namespaced and not self.namespace_exists(obj["metadata"]["namespace"]):
            raise namespace_not_found(obj["metadata"]["namespace"])

    def create(self, rt: ResourceType, namespace: str | None, body: Obj, *,
               dry_run: bool = False) -> Obj:
        """Create an object; fills uid, resourceVersion, generation, creationTimestamp."""
        obj = self._prepare(rt, namespace, body)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(
                random.choice(_NAME_CHARS) for _ in range(5))
        self._validate_name(rt, obj)
        self._check_namespace(rt, obj)
        bucket = self._objects.setdefault((rt.group, rt.name), {})
        key = _key(obj)
        if key in bucket:
            raise ApiError(409, f'{qualified(rt)} "{key[1]}" already exists',
                           reason="AlreadyExists", details=_details(rt, key[1]))
        for server_owned in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp",
                             "generation", "selfLink"):
            meta.pop(server_owned, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if "spec" in obj:
            meta["generation"] = 1
        apply_defaults(rt, obj, self)
        if dry_run:
            meta["resourceVersion"] = self.resource_version
            return obj
        meta["resourceVersion"] = self._next_rv()
        bucket[key] = obj
        self._emit(rt.group, rt.name, "ADDED", obj)
        return copy.deepcopy(obj)

    def update(self, rt: ResourceType, namespace: str | None, name: str, body: Obj, *,
               subresource: str | None = None, dry_run: bool = False,
               check_rv: bool = True) -> Obj:
        """Replace an object (PUT). ``subresource="status"`` changes only the status."""
        obj = self._prepare(rt, namespace, body)
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise bad_request("the name of the object "
                              f"({meta['name']}) does not match the name on the URL ({name})")
        meta["name"] = name
        bucket = self._objects.setdefault((rt.group, rt.name), {})
        key = (meta.get("namespace") or "", name)
        old = bucket.get(key)
        if old is None:
            if rt.namespaced and not self.namespace_exists(key[0]):
                raise namespace_not_found(key[0])
            raise not_found(rt, name)
        sent_rv = meta.get("resourceVersion")
        if check_rv and sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, f'Operation cannot be fulfilled on {qualified(rt)} "{name}": the '
                           "object has been modified; please apply your changes to the latest "
                           "version and try again", reason="Conflict",
                           details=_details(rt, name))
        if subresource == "status":
            new = copy.deepcopy(old)
            if "status" in obj:
                new["status"] = obj["status"]
            obj = new
        elif "status" in rt.subresources and "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        self._validate_name(rt, obj)
        meta = obj["metadata"]
        for kept in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
            if kept in old["metadata"]:
                meta[kept] = old["metadata"][kept]
            else:
                meta.pop(kept, None)
        if "spec" in obj and _strip_for_generation(obj) != _strip_for_generation(old):
            meta["generation"] = int(old["metadata"].get("generation", 0)) + 1
        if rt.kind == "Service":
            for carried in ("clusterIP", "clusterIPs"):
                if carried in (old.get("spec") or {}) and carried not in obj.get("spec", {}):
                    obj.setdefault("spec", {})[carried] = old["spec"][carried]
            _carry_node_ports(old, obj)
        apply_defaults(rt, obj, self)
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        if obj == old:
            return copy.deepcopy(old)        # a no-op write keeps its resourceVersion
        if dry_run:
            return obj
        meta["resourceVersion"] = self._next_rv()
        bucket[key] = obj
        self._emit(rt.group, rt.name, "MODIFIED", obj, old)
        return copy.deepcopy(obj)

    def delete(self, rt: ResourceType, namespace: str | None, name: str, *,
               dry_run: bool = False) -> Obj:
        """Delete one object and return its last state (a namespace takes its contents along)."""
        bucket = self._objects.get((rt.group, rt.name), {})
        key = (namespace or "", name)
        old = bucket.get(key)
        if old is None:
            raise not_found(rt, name)
        if dry_run:
            return copy.deepcopy(old)
        if rt.group == "" and rt.name == "namespaces":
            self._delete_namespace_contents(name)
        del bucket[key]
        obj = copy.deepcopy(old)
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(rt.group, rt.name, "DELETED", obj)
        return obj

    def delete_raw(self, group: str, resource: str, namespace: str | None, name: str) -> None:
        """Delete without a ResourceType (controllers, namespace cascade); missing is fine."""
        bucket = self._objects.get((group, resource), {})
        old = bucket.pop((namespace or "", name), None)
        if old is not None:
            old["metadata"]["resourceVersion"] = self._next_rv()
            self._emit(group, resource, "DELETED", old)

    def _delete_namespace_contents(self, namespace: str) -> None:
        for (group, resource), bucket in list(self._objects.items()):
            for ns, name in [k for k in bucket if k[0] == namespace and k[0]]:
                self.delete_raw(group, resource, ns, name)

    def put_raw(self, group: str, resource: str, obj: Obj) -> Obj:
        """Store a controller-made change as-is (new resourceVersion, ADDED or MODIFIED)."""
        bucket = self._objects.setdefault((group, resource), {})
        key = _key(obj)
        old = bucket.get(key)
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = self._next_rv()
        bucket[key] = obj
        self._emit(group, resource, "ADDED" if old is None else "MODIFIED", obj, old)
        return copy.deepcopy(obj)

    # ---- watching -----------------------------------------------------------------------
    def watch(self, group: str, resource: str, namespace: str | None,
              since: str | None) -> tuple[Watcher, builtins.list[WatchEvent]]:
        """Open a watch. Returns the watcher and the events to send first.

        ``since`` empty or ``"0"``: synthetic ADDED events for the current state, then live
        changes. A number: replay changes after it (410 Expired if history no longer reaches
        back that far), then live changes.
        """
        watcher = Watcher(group, resource, namespace)
        backlog: builtins.list[WatchEvent] = []
        if not since or since == "0":
            for obj in self.list(group, resource, namespace):
                backlog.append(WatchEvent(int(obj["metadata"]["resourceVersion"]), group,
                                          resource, "ADDED", obj))
        else:
            try:
                start = int(since)
            except ValueError:
                raise bad_request(f"invalid resource version: {since}") from None
            oldest = self._history[0].rv if self._history else self._rv + 1
            if self._history and len(self._history) == self._history.maxlen and start < oldest - 1:
                raise ApiError(410, f"too old resource version: {start} ({oldest - 1})",
                               reason="Expired")
            backlog = [e for e in self._history if e.rv > start and e.group == group
                       and e.resource == resource
                       and (namespace is None or e.obj["metadata"].get("namespace") == namespace)]
        self._watchers.add(watcher)
        return watcher, backlog

    def unwatch(self, watcher: Watcher) -> None:
        """Stop delivering events to ``watcher``."""
        self._watchers.discard(watcher)

    def close_watches(self) -> None:
        """End every open watch (server shutdown)."""
        for w in list(self._watchers):
            w.queue.put_nowait(None)
        self._watchers.clear()

    def all_objects(self) -> Iterable[tuple[str, str, Obj]]:
        """Every stored object as (group, resource, copy) — for tests and debugging."""
        for (group, resource), bucket in self._objects.items():
            for obj in bucket.values():
                yield group, resource, copy.deepcopy(obj)


def _fold_secret(rt: ResourceType, obj: Obj) -> None:
    """Merge ``stringData`` into base64 ``data`` and check ``data`` is base64, like upstream."""
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        raise bad_request('Secret in version "v1" cannot be handled as a Secret: data must be '
                          "an object")
    for key, value in data.items():
        if not isinstance(value, str):
            raise bad_request('Secret in version "v1" cannot be handled as a Secret: '
                              f"data[{key}] must be a base64 string")
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request('Secret in version "v1" cannot be handled as a Secret: illegal '
                              "base64 data at input byte 0") from None
    string_data = obj.pop("stringData", None) or {}
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    if data or "data" in obj:
        obj["data"] = data
    obj.setdefault("type", "Opaque")


# ---- defaulting (what the real server's defaulters fill in, for the kinds kubectl shows) -----
def _default_pod_spec(spec: Obj) -> None:
    for c in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        if not isinstance(c, dict):
            continue
        image = str(c.get("image", ""))
        tag = image.rsplit("/", 1)[-1]
        latest = ":" not in tag or tag.endswith(":latest")
        c.setdefault("imagePullPolicy", "Always" if latest and "@" not in tag else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
        for port in c.get("ports", []) or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def apply_defaults(rt: ResourceType, obj: Obj, store: Store) -> None:
    """Fill the fields kube-apiserver defaults, so ``get -o yaml`` and ``diff`` look real."""
    kind = rt.kind
    spec = obj.get("spec")
    if kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {"phase": "Active"})
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif kind == "Pod" and isinstance(spec, dict):
        _default_pod_spec(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})
    elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job") and isinstance(
            spec, dict):
        template = spec.get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
            _default_pod_spec(template["spec"])
        if kind != "DaemonSet" and kind != "Job":
            spec.setdefault("replicas", 1)
        if kind == "Deployment":
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {
                "maxUnavailable": "25%", "maxSurge": "25%"}})
        elif kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                               "rollingUpdate": {"partition": 0}})
        elif kind == "Job":
            spec.setdefault("parallelism", 1)
            spec.setdefault("completions", 1)
            spec.setdefault("backoffLimit", 6)
            spec.setdefault("completionMode", "NonIndexed")
            spec.setdefault("suspend", False)
            spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
            _default_job(obj, spec)
        obj.setdefault("status", {})
    elif kind == "CronJob" and isinstance(spec, dict):
        spec.setdefault("suspend", False)
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
            _default_pod_spec(template["spec"])
        obj.setdefault("status", {})
    elif kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        if spec["type"] != "ExternalName" and "clusterIP" not in spec:
            spec["clusterIP"] = store.allocate_cluster_ip()
        if spec.get("clusterIP") and spec["clusterIP"] != "None":
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports", []) or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
        _default_node_ports(rt, obj, spec, store)
        obj.setdefault("status", {"loadBalancer": {}})


def _default_job(obj: Obj, spec: Obj) -> None:
    """kube's generated selector: the Job's uid, on the selector and the pod template labels.

    ``kubectl logs job/x`` and ``describe`` find the Job's pods through this selector. Like
    kube, a Job without labels shows its template's labels.
    """
    meta = obj["metadata"]
    uid, name = meta.get("uid"), meta.get("name")
    template = spec.get("template")
    if not uid or spec.get("manualSelector") or not isinstance(template, dict):
        return
    spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    for key, value in (("batch.kubernetes.io/controller-uid", uid),
                       ("batch.kubernetes.io/job-name", name), ("controller-uid", uid),
                       ("job-name", name)):
        labels.setdefault(key, value)
    if not meta.get("labels"):
        meta["labels"] = dict(labels)


def _default_node_ports(rt: ResourceType, obj: Obj, spec: Obj, store: Store) -> None:
    """NodePort and LoadBalancer Services get a nodePort per port unless they name a free one."""
    type_ = spec.get("type")
    if type_ not in ("NodePort", "LoadBalancer"):
        return
    spec.setdefault("externalTrafficPolicy", "Cluster")
    if type_ == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    used = store.node_ports_in_use(_key(obj))
    for i, port in enumerate(ports):
        wanted = port.get("nodePort")
        if isinstance(wanted, int) and wanted:
            if wanted in used:
                raise invalid(rt, obj["metadata"]["name"], [(
                    f"spec.ports[{i}].nodePort", "FieldValueInvalid",
                    f"Invalid value: {wanted}: provided port is already allocated")])
            used.add(wanted)
    if type_ == "LoadBalancer" and not spec["allocateLoadBalancerNodePorts"]:
        return
    for port in ports:
        if not port.get("nodePort"):
            port["nodePort"] = store.allocate_node_port(used)
            used.add(port["nodePort"])


def _carry_node_ports(old: Obj, new: Obj) -> None:
    """An update that omits nodePorts (``kubectl apply`` of the same manifest) keeps them."""
    spec = new.get("spec")
    if not isinstance(spec, dict) or spec.get("type") not in ("NodePort", "LoadBalancer"):
        return
    previous = {(p.get("port"), p.get("protocol", "TCP")): p["nodePort"]
                for p in (old.get("spec") or {}).get("ports") or []
                if isinstance(p, dict) and p.get("nodePort")}
    for port in spec.get("ports") or []:
        if isinstance(port, dict) and not port.get("nodePort"):
            carried = previous.get((port.get("port"), port.get("protocol", "TCP")))
            if carried:
                port["nodePort"] = carried
