"""Per-namespace housekeeping: default ServiceAccounts, garbage collection, quota usage.

Every new namespace gets a ``default`` ServiceAccount; deleting an owner deletes the Jobs,
ReplicaSets and Pods that name it in ``ownerReferences``; a ResourceQuota's status mirrors its
``spec.hard`` with object counts as ``used`` (compute resources stay at 0).
"""

from __future__ import annotations

import uuid
from typing import Any

from kgate.sandbox.controlplane import ControlPlane, owned_by, phase
from kgate.sandbox.store import now_rfc3339

Obj = dict[str, Any]
# ResourceQuota names counted as "used" (object counts); compute resources stay at 0.
_QUOTA_COUNTED = {"pods": ("", "pods"), "services": ("", "services"),
                  "configmaps": ("", "configmaps"), "secrets": ("", "secrets"),
                  "persistentvolumeclaims": ("", "persistentvolumeclaims"),
                  "replicationcontrollers": ("", "replicationcontrollers"),
                  "resourcequotas": ("", "resourcequotas")}


class Namespaces:
    """Reconcilers for namespace defaults, owner-reference GC and ResourceQuota status."""

    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp

    def reconcile_namespace(self, _: str, name: str) -> None:
        if self.cp.store.namespace_exists(name) and self.cp.store.get(
                "", "serviceaccounts", name, "default") is None:
            self.cp.store.put_raw("", "serviceaccounts", {
                "apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": name, "uid": str(uuid.uuid4()),
                             "creationTimestamp": now_rfc3339()}})

    def collect_garbage(self, namespace: str, uid: str) -> None:
        for group, resource in (("batch", "jobs"), ("apps", "replicasets"), ("", "pods")):
            for obj in self.cp.store.list(group, resource, namespace or None):
                if owned_by(obj, uid):
                    self.cp.store.delete_raw(group, resource, namespace, obj["metadata"]["name"])

    def reconcile_quota(self, namespace: str, name: str) -> None:
        """What the quota controller reports: ``hard`` from the spec, object counts as ``used``."""
        quota = self.cp.store.get("", "resourcequotas", namespace, name)
        if quota is None:
            return
        hard = dict((quota.get("spec") or {}).get("hard") or {})
        used: Obj = {}
        for resource in hard:
            counted = _QUOTA_COUNTED.get(resource)
            if counted is None and resource.startswith("count/"):
                plural, _, group = resource[len("count/"):].partition(".")
                counted = (group, plural)
            objs = self.cp.store.list(*counted, namespace) if counted else []
            if counted == ("", "pods"):
                objs = [p for p in objs if phase(p) not in ("Succeeded", "Failed")]
            used[resource] = str(len(objs))
        self.cp.set_status("", "resourcequotas", quota, {"hard": hard, "used": used})
