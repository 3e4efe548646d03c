"""What every fake controller shares: the store, the loop, the work queue and an event recorder.

The reconcilers (``kubelet``, ``workloads``, ``jobs``, ``namespaces``) are written against a
``ControlPlane`` rather than each other, so each family reads on its own: it gets objects from
the store, writes controller-made changes with ``put_raw``, records the Events ``kubectl
describe`` shows, and asks for follow-up work with ``enqueue`` (never reconciling inline).
The helpers below read owner references and pod phases the way kube's controllers do.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from kgate.sandbox.store import Store, now_rfc3339

Obj = dict[str, Any]
Enqueue = Callable[[str, str, str], None]
_HASH_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def short_hash(value: Any, length: int = 10) -> str:
    """A stable name suffix from ``value`` in kube's alphabet (no vowels, no look-alikes)."""
    digest = hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).digest()
    return "".join(_HASH_CHARS[b % len(_HASH_CHARS)] for b in digest[:length])


def owner_ref(owner: Obj) -> Obj:
    """The controller ownerReference a child of ``owner`` carries."""
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def owned_by(obj: Obj, uid: str) -> bool:
    """Whether ``obj`` names the object with ``uid`` among its owners."""
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])


def controller_kind(obj: Obj) -> str | None:
    """The kind of ``obj``'s controlling owner, if any."""
    return next((ref.get("kind") for ref in obj["metadata"].get("ownerReferences") or []
                 if ref.get("controller")), None)


def phase(pod: Obj) -> str:
    """A pod's phase, ``Pending`` until the kubelet has set one."""
    return str((pod.get("status") or {}).get("phase") or "Pending")


class ControlPlane:
    """The store and loop the reconcilers act on, plus the shared work queue and recorder."""

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop, enqueue: Enqueue) -> None:
        self.store = store
        self.loop = loop
        self.enqueue = enqueue
        self._last_event_ns = 0

    def record(self, obj: Obj, reason: str, message: str, component: str,
               type_: str = "Normal") -> None:
        """Write a core/v1 Event about ``obj`` (what ``kubectl describe`` shows at the bottom)."""
        meta = obj["metadata"]
        now = now_rfc3339()
        self.store.put_raw("", "events", {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{self._event_suffix()}",
                         "namespace": meta.get("namespace", "default"),
                         "uid": str(uuid.uuid4()), "creationTimestamp": now},
            "involvedObject": {"kind": obj["kind"], "namespace": meta.get("namespace"),
                               "name": meta["name"], "uid": meta["uid"],
                               "apiVersion": obj["apiVersion"],
                               "resourceVersion": meta.get("resourceVersion", "")},
            "reason": reason, "message": message, "source": {"component": component},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": type_,
            "eventTime": None, "reportingComponent": component, "reportingInstance": ""})

    def _event_suffix(self) -> str:
        # Like kube's recorder: a hex timestamp, so events list in the order they happened.
        self._last_event_ns = max(time.time_ns(), self._last_event_ns + 1)
        return f"{self._last_event_ns:x}"

    def pods_of(self, owner: Obj) -> list[Obj]:
        """The pods in ``owner``'s namespace that name it as an owner."""
        ns = owner["metadata"]["namespace"]
        return [p for p in self.store.list("", "pods", ns)
                if owned_by(p, owner["metadata"]["uid"])]

    def new_pod(self, owner: Obj, name: str, extra_labels: dict[str, str]) -> None:
        """Create a Pending pod from ``owner``'s template, owned by it."""
        template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
        tmeta = template.get("metadata") or {}
        meta: Obj = {"name": name, "namespace": owner["metadata"]["namespace"],
                     "uid": str(uuid.uuid4()), "creationTimestamp": now_rfc3339(),
                     "labels": {**(tmeta.get("labels") or {}), **extra_labels},
                     "ownerReferences": [owner_ref(owner)]}
        if tmeta.get("annotations"):
            meta["annotations"] = tmeta["annotations"]
        spec = template.get("spec") or {}
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
               "status": {"phase": "Pending", "qosClass": "BestEffort"}}
        self.store.put_raw("", "pods", pod)

    def set_status(self, group: str, resource: str, obj: Obj, status: Obj) -> None:
        """Write ``status`` only when it changed, so a quiet reconcile makes no watch event."""
        if obj.get("status") != status:
            obj["status"] = status
            self.store.put_raw(group, resource, obj)
