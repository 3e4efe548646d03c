"""The sandbox's object store: objects, one resourceVersion counter, and watch fan-out.

Everything here runs on the server's event-loop thread, so there are no locks: a write, its
resourceVersion bump, the history entry and the fan-out to open watches happen in one synchronous
step. Objects are kept per ``(group, resource)`` independent of API version, like etcd storage.
The store decides what depends on stored state (existence, conflicts, generations, address
allocation); it leaves shape and name checks to ``validation`` and server-filled fields to
``defaults``. Failures are ``apierrors.ApiError``s carrying the exact ``Status`` kube-apiserver
would send, so kubectl prints the same messages (``pods "x" not found``, ``… already exists``,
``Operation cannot be fulfilled …``).
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import datetime as dt
import random
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kgate.sandbox.apierrors import (
    ApiError,
    bad_request,
    details,
    namespace_not_found,
    not_found,
    qualified,
)
from kgate.sandbox.defaults import apply_defaults, carry_node_ports
from kgate.sandbox.registry import ResourceType
from kgate.sandbox.validation import prepare, validate_name

# ApiError and its constructors moved to apierrors; callers that import them from here still can.
__all__ = ["HISTORY_SIZE", "ApiError", "Listener", "Obj", "Store", "WatchEvent", "Watcher",
           "bad_request", "namespace_not_found", "not_found", "now_rfc3339", "qualified"]

Obj = dict[str, Any]
Listener = Callable[["WatchEvent"], None]

HISTORY_SIZE = 5000
NODE_PORT_MIN, NODE_PORT_MAX = 30000, 32767
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


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

    def _check_namespace(self, rt: ResourceType, obj: Obj) -> None:
        if rt.namespaced and not self.namespace_exists(obj["metadata"]["namespace"]):
            raise namespace_not_found(obj["metadata"]["namespace"])

    def create(self, rt: ResourceType, namespace: str | None, body: Obj, *,
               dry_run: bool = False) -> Obj:
        """Create an object; fills uid, resourceVersion, generation, creationTimestamp."""
        obj = prepare(rt, namespace, body)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(
                random.choice(_NAME_CHARS) for _ in range(5))
        validate_name(rt, obj)
        self._check_namespace(rt, obj)
        bucket = self._objects.setdefault((rt.group, rt.name), {})
        key = _key(obj)
        if key in bucket:
            raise ApiError(409, f'{qualified(rt)} "{key[1]}" already exists',
                           reason="AlreadyExists", details=details(rt, key[1]))
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
        obj = prepare(rt, namespace, body)
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
                           details=details(rt, name))
        if subresource == "status":
            new = copy.deepcopy(old)
            if "status" in obj:
                new["status"] = obj["status"]
            obj = new
        elif "status" in rt.subresources and "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        validate_name(rt, obj)
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
            carry_node_ports(old, obj)
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

