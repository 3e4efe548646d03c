"""Tiny, deterministic stand-ins for kube-controller-manager, the scheduler and the kubelet.

They exist so that what a user does with kubectl has the consequences they expect: a Pod becomes
Running and Ready with a podIP; a Deployment gets a ReplicaSet, which gets ``spec.replicas`` Pods
(copied from the template, owner references set); statuses follow, so ``kubectl rollout status``
finishes and ``kubectl scale`` shows up in ``get``; deleting an owner deletes what it owns; every
new namespace gets a ``default`` ServiceAccount. A Job gets ``spec.completions`` pods
(``parallelism`` at a time) that run for ``JOB_POD_SECONDS`` and then exit 0 — or with the code
in the pod template's ``sandbox.kgate.dev/exit-code`` annotation, in which case the Job retries
up to ``backoffLimit`` and then fails — so ``kubectl wait --for=condition=complete`` and
``kubectl logs job/x`` behave. A ResourceQuota's status mirrors its ``spec.hard``, with object
counts as ``used``.

Controllers react to store changes, but never inside the write that caused them: each change
schedules a reconcile with ``loop.call_soon``, so the API call that triggered it answers first,
as with a real cluster (only a lot faster). The one timed step is a Job pod's run: it schedules
its exit with ``loop.call_later``, which then goes through the same queue.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import time
import uuid
from typing import Any

import orjson

from kgate.sandbox.registry import Registry
from kgate.sandbox.store import Store, WatchEvent, now_rfc3339

Obj = dict[str, Any]
NODE_NAME = "sandbox-node"
JOB_POD_SECONDS = 0.2
EXIT_CODE_ANNOTATION = "sandbox.kgate.dev/exit-code"
# ResourceQuota names counted as "used" (object counts); compute resources stay at 0.
_QUOTA_COUNTED = {"pods": ("", "pods"), "services": ("", "services"),
                  "configmaps": ("", "configmaps"), "secrets": ("", "secrets"),
                  "persistentvolumeclaims": ("", "persistentvolumeclaims"),
                  "replicationcontrollers": ("", "replicationcontrollers"),
                  "resourcequotas": ("", "resourcequotas")}
_HASH_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def _short_hash(value: Any, length: int = 10) -> str:
    digest = hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).digest()
    return "".join(_HASH_CHARS[b % len(_HASH_CHARS)] for b in digest[:length])


def _owner_ref(owner: Obj) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def _owned_by(obj: Obj, uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])


def _controller_kind(obj: Obj) -> str | None:
    return next((ref.get("kind") for ref in obj["metadata"].get("ownerReferences") or []
                 if ref.get("controller")), None)


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def _exit_code(pod: Obj) -> int:
    """The exit code a Job pod's containers "return" (a bad annotation value fails the pod)."""
    raw = ((pod["metadata"].get("annotations") or {}).get(EXIT_CODE_ANNOTATION) or "0")
    try:
        return int(raw)
    except ValueError:
        return 1


class Controllers:
    """Reconcilers for namespaces, pods, ReplicaSets, Deployments, StatefulSets, Jobs, quotas."""

    def __init__(self, store: Store, registry: Registry,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.store = store
        self.registry = registry
        self.loop = loop
        self._queue: dict[tuple[str, str, str], None] = {}   # ordered set of (kind, ns, name)
        self._scheduled = False
        self._ip = 10
        self._last_event_ns = 0
        store.add_listener(self._on_event)

    # ---- scheduling --------------------------------------------------------------------------
    def _enqueue(self, kind: str, namespace: str, name: str) -> None:
        self._queue[(kind, namespace, name)] = None
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self._drain)

    def _on_event(self, event: WatchEvent) -> None:
        meta = event.obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        res = (event.group, event.resource)
        if event.type == "DELETED":
            self._enqueue("gc", ns, meta["uid"])
        if res == ("", "namespaces") and event.type == "ADDED":
            self._enqueue("namespace", "", name)
        elif res == ("", "pods") and event.type != "DELETED":
            self._enqueue("pod", ns, name)
        if res == ("", "pods"):
            for ref in meta.get("ownerReferences") or []:
                if ref.get("kind") in ("ReplicaSet", "StatefulSet", "Job"):
                    self._enqueue(ref["kind"], ns, ref["name"])
        elif res == ("apps", "replicasets"):
            if event.type != "DELETED":
                self._enqueue("ReplicaSet", ns, name)
            for ref in meta.get("ownerReferences") or []:
                if ref.get("kind") == "Deployment":
                    self._enqueue("Deployment", ns, ref["name"])
        elif res == ("apps", "deployments") and event.type != "DELETED":
            self._enqueue("Deployment", ns, name)
        elif res == ("apps", "statefulsets") and event.type != "DELETED":
            self._enqueue("StatefulSet", ns, name)
        elif res == ("batch", "jobs") and event.type != "DELETED":
            self._enqueue("Job", ns, name)
        if res[0] == "" and res[1] in ("resourcequotas", "pods", "services", "configmaps",
                                       "secrets", "persistentvolumeclaims"):
            for quota in self.store.list("", "resourcequotas", ns or None):
                self._enqueue("quota", ns, quota["metadata"]["name"])

    def _drain(self) -> None:
        # Bounded: a bug must not spin the loop forever.
        for _ in range(10_000):
            if not self._queue:
                break
            key = next(iter(self._queue))
            del self._queue[key]
            kind, ns, name = key
            handler = getattr(self, f"_reconcile_{kind.lower()}")
            handler(ns, name)
        self._scheduled = False
        if self._queue:
            self._scheduled = True
            self.loop.call_soon(self._drain)

    def _event_suffix(self) -> str:
        # Like kube's recorder: a hex timestamp, so events list in the order they happened.
        self._last_event_ns = max(time.time_ns(), self._last_event_ns + 1)
        return f"{self._last_event_ns:x}"

    def _record(self, obj: Obj, reason: str, message: str, component: str,
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

    # ---- reconcilers -------------------------------------------------------------------------
    def _reconcile_namespace(self, _: str, name: str) -> None:
        if self.store.namespace_exists(name) and self.store.get(
                "", "serviceaccounts", name, "default") is None:
            self.store.put_raw("", "serviceaccounts", {
                "apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": name, "uid": str(uuid.uuid4()),
                             "creationTimestamp": now_rfc3339()}})

    def _reconcile_gc(self, namespace: str, uid: str) -> None:
        for group, resource in (("batch", "jobs"), ("apps", "replicasets"), ("", "pods")):
            for obj in self.store.list(group, resource, namespace or None):
                if _owned_by(obj, uid):
                    self.store.delete_raw(group, resource, namespace, obj["metadata"]["name"])

    def _reconcile_pod(self, namespace: str, name: str) -> None:
        """Schedule and "run" a pod: Running, Ready, a podIP and container statuses."""
        pod = self.store.get("", "pods", namespace, name)
        if pod is None or (pod.get("status") or {}).get("phase") not in (None, "Pending"):
            return
        self._ip += 1
        now = now_rfc3339()
        spec = pod.setdefault("spec", {})
        spec.setdefault("nodeName", NODE_NAME)
        containers = spec.get("containers") or []
        pod["status"] = {
            "phase": "Running",
            "conditions": [{"type": t, "status": "True", "lastProbeTime": None,
                            "lastTransitionTime": now}
                           for t in ("PodReadyToStartContainers", "Initialized", "Ready",
                                     "ContainersReady", "PodScheduled")],
            "hostIP": "10.0.0.10", "hostIPs": [{"ip": "10.0.0.10"}],
            "podIP": f"10.244.{self._ip // 250}.{self._ip % 250 + 1}",
            "startTime": now, "qosClass": "BestEffort",
            "containerStatuses": [{
                "name": c.get("name", ""), "image": c.get("image", ""),
                "imageID": f"docker.io/library/{c.get('image', '')}@sha256:"
                           + hashlib.sha256(str(c.get("image")).encode()).hexdigest(),
                "containerID": "containerd://" + hashlib.sha256(
                    f"{namespace}/{name}/{c.get('name')}".encode()).hexdigest(),
                "ready": True, "started": True, "restartCount": 0,
                "state": {"running": {"startedAt": now}}, "lastState": {}}
                for c in containers],
        }
        pod["status"]["podIPs"] = [{"ip": pod["status"]["podIP"]}]
        pod = self.store.put_raw("", "pods", pod)
        self._record(pod, "Scheduled", f"Successfully assigned {namespace}/{name} to "
                     f"{NODE_NAME}", "default-scheduler")
        for c in containers:
            self._record(pod, "Pulled", f'Container image "{c.get("image", "")}" already '
                         "present on machine", "kubelet")
            self._record(pod, "Created", f"Created container: {c.get('name', '')}", "kubelet")
            self._record(pod, "Started", f"Started container {c.get('name', '')}", "kubelet")
        if _controller_kind(pod) == "Job":
            self.loop.call_later(JOB_POD_SECONDS, self._enqueue, "podexit", namespace, name)

    def _reconcile_podexit(self, namespace: str, name: str) -> None:
        """A Job pod's containers exit: Succeeded (exit 0) or Failed, containers terminated."""
        pod = self.store.get("", "pods", namespace, name)
        if pod is None or _phase(pod) != "Running":
            return
        code = _exit_code(pod)
        now = now_rfc3339()
        st = pod["status"]
        st["phase"] = "Succeeded" if code == 0 else "Failed"
        done_reason = "PodCompleted" if code == 0 else "PodFailed"
        for cond in st.get("conditions") or []:
            if cond["type"] in ("Ready", "ContainersReady", "PodReadyToStartContainers"):
                cond.update(status="False", lastTransitionTime=now)
                if cond["type"] != "PodReadyToStartContainers":
                    cond["reason"] = done_reason
        for cs in st.get("containerStatuses") or []:
            started = (cs.get("state") or {}).get("running", {}).get("startedAt", now)
            cs.update(ready=False, started=False, state={"terminated": {
                "exitCode": code, "reason": "Completed" if code == 0 else "Error",
                "startedAt": started, "finishedAt": now, "containerID": cs.get("containerID")}})
        self.store.put_raw("", "pods", pod)

    def _pods_of(self, owner: Obj) -> list[Obj]:
        ns = owner["metadata"]["namespace"]
        return [p for p in self.store.list("", "pods", ns)
                if _owned_by(p, owner["metadata"]["uid"])]

    def _new_pod(self, owner: Obj, name: str, extra_labels: dict[str, str]) -> None:
        template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
        tmeta = template.get("metadata") or {}
        meta: Obj = {"name": name, "namespace": owner["metadata"]["namespace"],
                     "uid": str(uuid.uuid4()), "creationTimestamp": now_rfc3339(),
                     "labels": {**(tmeta.get("labels") or {}), **extra_labels},
                     "ownerReferences": [_owner_ref(owner)]}
        if tmeta.get("annotations"):
            meta["annotations"] = tmeta["annotations"]
        spec = template.get("spec") or {}
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
               "status": {"phase": "Pending", "qosClass": "BestEffort"}}
        self.store.put_raw("", "pods", pod)

    def _set_status(self, group: str, resource: str, obj: Obj, status: Obj) -> None:
        if obj.get("status") != status:
            obj["status"] = status
            self.store.put_raw(group, resource, obj)

    def _reconcile_replicaset(self, namespace: str, name: str) -> None:
        rs = self.store.get("apps", "replicasets", namespace, name)
        if rs is None:
            return
        want = int(rs["spec"].get("replicas", 1))
        pods = sorted(self._pods_of(rs), key=lambda p: p["metadata"]["name"])
        labels = {"pod-template-hash": rs["metadata"].get("labels", {}).get(
            "pod-template-hash", "")} if "pod-template-hash" in rs["metadata"].get(
            "labels", {}) else {}
        for _ in range(want - len(pods)):
            pod_name = f"{name}-{_short_hash([name, uuid.uuid4().hex], 5)}"
            self._new_pod(rs, pod_name, labels)
            self._record(rs, "SuccessfulCreate", f"Created pod: {pod_name}",
                         "replicaset-controller")
        for pod in pods[want:] if len(pods) > want else []:
            self.store.delete_raw("", "pods", namespace, pod["metadata"]["name"])
            self._record(rs, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                         "replicaset-controller")
        pods = self._pods_of(rs)
        ready = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running")
        status: Obj = {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                       "observedGeneration": rs["metadata"].get("generation", 1)}
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        self._set_status("apps", "replicasets", rs, status)

    def _reconcile_statefulset(self, namespace: str, name: str) -> None:
        sts = self.store.get("apps", "statefulsets", namespace, name)
        if sts is None:
            return
        want = int(sts["spec"].get("replicas", 1))
        pods = {p["metadata"]["name"]: p for p in self._pods_of(sts)}
        for i in range(want):
            pod_name = f"{name}-{i}"
            if pod_name not in pods:
                self._new_pod(sts, pod_name, {"statefulset.kubernetes.io/pod-name": pod_name,
                                              "apps.kubernetes.io/pod-index": str(i)})
        for pod_name in pods:
            if int(pod_name.rsplit("-", 1)[-1]) >= want:
                self.store.delete_raw("", "pods", namespace, pod_name)
        pods_now = self._pods_of(sts)
        ready = sum(1 for p in pods_now if (p.get("status") or {}).get("phase") == "Running")
        self._set_status("apps", "statefulsets", sts, {
            "replicas": len(pods_now), "readyReplicas": ready, "currentReplicas": len(pods_now),
            "updatedReplicas": len(pods_now), "availableReplicas": ready,
            "observedGeneration": sts["metadata"].get("generation", 1)})

    def _reconcile_deployment(self, namespace: str, name: str) -> None:
        dep = self.store.get("apps", "deployments", namespace, name)
        if dep is None:
            return
        spec = dep["spec"]
        want = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        pth = _short_hash(template)
        owned = [rs for rs in self.store.list("apps", "replicasets", namespace)
                 if _owned_by(rs, dep["metadata"]["uid"])]
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
            self.store.put_raw("apps", "replicasets", current)
        for rs in owned:
            if rs["metadata"]["uid"] != current["metadata"]["uid"] and rs["spec"].get(
                    "replicas", 0) != 0:
                self._scaled(dep, rs["metadata"]["name"], int(rs["spec"]["replicas"]), 0)
                rs["spec"]["replicas"] = 0
                self.store.put_raw("apps", "replicasets", rs)
        owned = [rs for rs in self.store.list("apps", "replicasets", namespace)
                 if _owned_by(rs, dep["metadata"]["uid"])]
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
            self.store.put_raw("apps", "deployments", dep)

    def _scaled(self, dep: Obj, rs_name: str, old: int, new: int) -> None:
        direction = "up" if new > old else "down"
        self._record(dep, "ScalingReplicaSet", f"Scaled {direction} replica set {rs_name} "
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
                           "ownerReferences": [_owner_ref(dep)]},
              "spec": {"replicas": replicas, "selector": selector, "template": template},
              "status": {"replicas": 0}}
        return self.store.put_raw("apps", "replicasets", rs)

    # ---- Jobs and quotas ---------------------------------------------------------------------
    def _reconcile_job(self, namespace: str, name: str) -> None:
        """kube's job controller, cut down: start pods, count them, finish or fail the Job."""
        job = self.store.get("batch", "jobs", namespace, name)
        if job is None:
            return
        spec = job.get("spec") or {}
        old = job.get("status") or {}
        status = copy.deepcopy(old)
        conditions: list[Obj] = status.get("conditions") or []
        finished = any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                       for c in conditions)
        want = int(spec["completions"]) if spec.get("completions") is not None else 1
        parallelism = int(spec.get("parallelism", 1))
        pods = self._pods_of(job)
        succeeded = sum(1 for p in pods if _phase(p) == "Succeeded")
        failed = sum(1 for p in pods if _phase(p) == "Failed")
        active = [p for p in pods if _phase(p) in ("Pending", "Running")]
        now = now_rfc3339()
        if not finished and not spec.get("suspend"):
            status.setdefault("startTime", now)
            if failed > int(spec.get("backoffLimit", 6)):
                for pod in active:
                    self.store.delete_raw("", "pods", namespace, pod["metadata"]["name"])
                active = []
                message = "Job has reached the specified backoff limit"
                conditions += [_job_condition("FailureTarget", "BackoffLimitExceeded", message,
                                              now),
                               _job_condition("Failed", "BackoffLimitExceeded", message, now)]
                self._record(job, "BackoffLimitExceeded", message, "job-controller", "Warning")
            elif succeeded >= want:
                message = "Reached expected number of succeeded pods"
                conditions += [_job_condition("SuccessCriteriaMet", "CompletionsReached",
                                              message, now),
                               _job_condition("Complete", "CompletionsReached", message, now)]
                status["completionTime"] = now
                self._record(job, "Completed", "Job completed", "job-controller")
            else:
                for _ in range(min(parallelism, want - succeeded) - len(active)):
                    pod_name = f"{name}-{_short_hash([name, uuid.uuid4().hex], 5)}"
                    self._new_pod(job, pod_name, {})
                    self._record(job, "SuccessfulCreate", f"Created pod: {pod_name}",
                                 "job-controller")
                active = [p for p in self._pods_of(job) if _phase(p) in ("Pending", "Running")]
        if conditions:
            status["conditions"] = conditions
        for key, count in (("active", len(active)), ("succeeded", succeeded),
                           ("failed", failed)):
            if count:
                status[key] = count
            else:
                status.pop(key, None)
        status["ready"] = sum(1 for p in active if _phase(p) == "Running")
        status["terminating"] = 0
        status["uncountedTerminatedPods"] = {}
        self._set_status("batch", "jobs", job, status)

    def _reconcile_quota(self, namespace: str, name: str) -> None:
        """What the quota controller reports: ``hard`` from the spec, object counts as ``used``."""
        quota = self.store.get("", "resourcequotas", namespace, name)
        if quota is None:
            return
        hard = dict((quota.get("spec") or {}).get("hard") or {})
        used: Obj = {}
        for resource in hard:
            counted = _QUOTA_COUNTED.get(resource)
            if counted is None and resource.startswith("count/"):
                plural, _, group = resource[len("count/"):].partition(".")
                counted = (group, plural)
            objs = self.store.list(*counted, namespace) if counted else []
            if counted == ("", "pods"):
                objs = [p for p in objs if _phase(p) not in ("Succeeded", "Failed")]
            used[resource] = str(len(objs))
        self._set_status("", "resourcequotas", quota, {"hard": hard, "used": used})


def _job_condition(type_: str, reason: str, message: str, now: str) -> Obj:
    return {"type": type_, "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}
