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

This module is the registry: which store change wakes which reconciler, and the queue that
runs them. The reconcilers live by family in ``kubelet`` (pods), ``workloads`` (Deployments,
ReplicaSets, StatefulSets), ``jobs`` and ``namespaces`` (default ServiceAccount, garbage
collection, quotas), all written against ``controlplane.ControlPlane``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kgate.sandbox.controlplane import ControlPlane
from kgate.sandbox.jobs import Jobs
from kgate.sandbox.kubelet import EXIT_CODE_ANNOTATION, JOB_POD_SECONDS, NODE_NAME, Kubelet
from kgate.sandbox.namespaces import Namespaces
from kgate.sandbox.registry import Registry
from kgate.sandbox.store import Store, WatchEvent
from kgate.sandbox.workloads import Workloads

__all__ = ["EXIT_CODE_ANNOTATION", "JOB_POD_SECONDS", "NODE_NAME", "Controllers"]

Reconcile = Callable[[str, str], None]


class Controllers:
    """Reconcilers for namespaces, pods, ReplicaSets, Deployments, StatefulSets, Jobs, quotas."""

    def __init__(self, store: Store, registry: Registry,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.store = store
        self.registry = registry
        self.loop = loop
        self._queue: dict[tuple[str, str, str], None] = {}   # ordered set of (kind, ns, name)
        self._scheduled = False
        cp = ControlPlane(store, loop, self._enqueue)
        kubelet, workloads, jobs, namespaces = Kubelet(cp), Workloads(cp), Jobs(cp), Namespaces(cp)
        # Keyed by the lower-cased queue kind that ``_on_event`` enqueues.
        self._reconcilers: dict[str, Reconcile] = {
            "namespace": namespaces.reconcile_namespace, "gc": namespaces.collect_garbage,
            "quota": namespaces.reconcile_quota, "pod": kubelet.run_pod,
            "podexit": kubelet.exit_pod, "replicaset": workloads.reconcile_replicaset,
            "deployment": workloads.reconcile_deployment,
            "statefulset": workloads.reconcile_statefulset, "job": jobs.reconcile_job}
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
            self._reconcilers[kind.lower()](ns, name)
        self._scheduled = False
        if self._queue:
            self._scheduled = True
            self.loop.call_soon(self._drain)
