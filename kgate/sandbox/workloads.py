"""The ReplicaSet, Deployment and StatefulSet controllers, cut down to what kubectl shows.

A Deployment owns one ReplicaSet per pod-template hash and scales the old ones to zero; a
ReplicaSet keeps ``spec.replicas`` Pods; a StatefulSet keeps ordinal Pods ``name-0…``.
Statuses, revision annotations, conditions and ScalingReplicaSet/SuccessfulCreate Events follow,
so ``kubectl rollout status``, ``rollout history`` and ``scale`` finish and print as for real.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from kgate.sandbox.controlplane import ControlPlane, owned_by, owner_ref, short_hash
from kgate.sandbox.store import now_rfc3339

Obj = dict[str, Any]


class Workloads:
    """Reconcilers for ReplicaSets, Deployments and StatefulSets."""

    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp

    def reconcile_replicaset(self, namespace: str, name: str) -> None:
        rs = self.cp.store.get("apps", "replicasets", namespace, name)
        if rs is None:
            return
        want = int(rs["spec"].get("replicas", 1))
        pods = sorted(self.cp.pods_of(rs), key=lambda p: p["metadata"]["name"])
        labels = {"pod-template-hash": rs["metadata"].get("labels", {}).get(
            "pod-template-hash", "")} if "pod-template-hash" in rs["metadata"].get(
            "labels", {}) else {}
        for _ in range(want - len(pods)):
            pod_name = f"{name}-{short_hash([name, uuid.uuid4().hex], 5)}"
            self.cp.new_pod(rs, pod_name, labels)
            self.cp.record(rs, "SuccessfulCreate", f"Created pod: {pod_name}",
                         "replicaset-controller")
        for pod in pods[want:] if len(pods) > want else []:
            self.cp.store.delete_raw("", "pods", namespace, pod["metadata"]["name"])
            self.cp.record(rs, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                         "replicaset-controller")
        pods = self.cp.pods_of(rs)
        ready = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running")
        status: Obj = {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                       "observedGeneration": rs["metadata"].get("generation", 1)}
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        self.cp.set_status("apps", "replicasets", rs, status)

    def reconcile_statefulset(self, namespace: str, name: str) -> None:
        sts = self.cp.store.get("apps", "statefulsets", namespace, name)
        if sts is None:
            return
        want = int(sts["spec"].get("replicas", 1))
        pods = {p["metadata"]["name"]: p for p in self.cp.pods_of(sts)}
        for i in range(want):
            pod_name = f"{name}-{i}"
            if pod_name not in pods:
                self.cp.new_pod(sts, pod_name, {"statefulset.kubernetes.io/pod-name": pod_name,
                                              "apps.kubernetes.io/pod-index": str(i)})
        for pod_name in pods:
            if int(pod_name.rsplit("-", 1)[-1]) >= want:
                self.cp.store.delete_raw("", "pods", namespace, pod_name)
        pods_now = self.cp.pods_of(sts)
        ready = sum(1 for p in pods_now if (p.get("status") or {}).get("phase") == "Running")
        self.cp.set_status("apps", "statefulsets", sts, {
            "replicas": len(pods_now), "readyReplicas": ready, "currentReplicas": len(pods_now),
            "updatedReplicas": len(pods_now), "availableReplicas": ready,
            "observedGeneration": sts["metadata"].get("generation", 1)})

    def reconcile_deployment(self, namespace: str, name: str) -> None:
        dep = self.cp.store.get("apps", "deployments", namespace, name)
        if dep is None:
            return
        spec = dep["spec"]
        want = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        pth = short_hash(template)
        owned = [rs for rs in self.cp.store.list("apps", "replicasets", namespace)
                 if owned_by(rs, dep["metadata"]["uid"])]
        current = next((rs for rs in owned if rs["metadata"].get("labels", {}).get(
            "pod-template-hash") == pth), None)
        revision = max([int(rs["metadata"].get("annotations", {}).get(
            "deployment.kubernetes.io/revision", "0")) for rs in owned] + [0])
        if current is None:
            revision += 1
            current = self._new_replicaset(dep, pth, want, revision)
            self._scaled(dep, current["metadata"]["name"], 0, want)
        elif int(current["spec"].get("replicas", 0)) != want:
            self._scaled(dep, current["metadata"]["name"], int(current["spec"]["replicas"]), want)
            current["spec"]["replicas"] = want
            self.cp.store.put_raw("apps", "replicasets", current)
        for rs in owned:
            if rs["metadata"]["uid"] != current["metadata"]["uid"] and rs["spec"].get(
                    "replicas", 0) != 0:
                self._scaled(dep, rs["metadata"]["name"], int(rs["spec"]["replicas"]), 0)
                rs["spec"]["replicas"] = 0
                self.cp.store.put_raw("apps", "replicasets", rs)
        owned = [rs for rs in self.cp.store.list("apps", "replicasets", namespace)
                 if owned_by(rs, dep["metadata"]["uid"])]
        total = sum(int((rs.get("status") or {}).get("replicas", 0)) for rs in owned)
        cur_st = next((rs.get("status") or {} for rs in owned
                       if rs["metadata"]["uid"] == current["metadata"]["uid"]), {})
        updated = int(cur_st.get("replicas", 0))
        ready = sum(int((rs.get("status") or {}).get("readyReplicas", 0)) for rs in owned)
        old_status = dep.get("status") or {}
        conditions = self._conditions(old_status, ready >= want, current["metadata"]["name"],
                                      updated == want == total)
        status: Obj = {"observedGeneration": dep["metadata"].get("generation", 1),
                       "replicas": total, "updatedReplicas": updated,
                       "readyReplicas": ready, "availableReplicas": ready,
                       "conditions": conditions}
        if total - ready > 0:
            status["unavailableReplicas"] = total - ready
        for key in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            if status[key] == 0:
                del status[key]
        annotations = dep["metadata"].setdefault("annotations", {})
        rev = current["metadata"].get("annotations", {}).get(
            "deployment.kubernetes.io/revision", "1")
        if annotations.get("deployment.kubernetes.io/revision") != rev or old_status != status:
            annotations["deployment.kubernetes.io/revision"] = rev
            dep["status"] = status
            self.cp.store.put_raw("apps", "deployments", dep)

    def _scaled(self, dep: Obj, rs_name: str, old: int, new: int) -> None:
        direction = "up" if new > old else "down"
        self.cp.record(dep, "ScalingReplicaSet", f"Scaled {direction} replica set {rs_name} "
                     f"from {old} to {new}", "deployment-controller")

    @staticmethod
    def _conditions(old: Obj, available: bool, rs_name: str, complete: bool) -> list[Obj]:
        now = now_rfc3339()
        previous = {c["type"]: c for c in old.get("conditions") or []}

        def cond(type_: str, ok: bool, reason: str, message: str) -> Obj:
            status = "True" if ok else "False"
            prev = previous.get(type_) or {}
            moved = prev.get("status") != status
            return {"type": type_, "status": status,
                    "lastUpdateTime": now if moved or prev.get("reason") != reason
                    else prev.get("lastUpdateTime"),
                    "lastTransitionTime": now if moved else prev.get("lastTransitionTime"),
                    "reason": reason, "message": message}

        return [
            cond("Available", available,
                 "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                 "Deployment has minimum availability." if available
                 else "Deployment does not have minimum availability."),
            cond("Progressing", True,
                 "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                 f'ReplicaSet "{rs_name}" has successfully progressed.' if complete
                 else f'ReplicaSet "{rs_name}" is progressing.'),
        ]

    def _new_replicaset(self, dep: Obj, pth: str, replicas: int, revision: int) -> Obj:
        template = copy.deepcopy(dep["spec"].get("template") or {})
        tmeta = template.setdefault("metadata", {})
        tmeta.setdefault("labels", {})["pod-template-hash"] = pth
        selector = copy.deepcopy(dep["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})["pod-template-hash"] = pth
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"{dep['metadata']['name']}-{pth}",
                           "namespace": dep["metadata"]["namespace"], "uid": str(uuid.uuid4()),
                           "creationTimestamp": now_rfc3339(), "generation": 1,
                           "labels": dict(tmeta["labels"]),
                           "annotations": {"deployment.kubernetes.io/revision": str(revision),
                                           "deployment.kubernetes.io/desired-replicas":
                                               str(replicas)},
                           "ownerReferences": [owner_ref(dep)]},
              "spec": {"replicas": replicas, "selector": selector, "template": template},
              "status": {"replicas": 0}}
        return self.cp.store.put_raw("apps", "replicasets", rs)
