"""What kube-apiserver's defaulters fill in, for the kinds kubectl shows.

``kubectl get -o yaml`` and ``kubectl diff`` compare against what the server stored, so a
sandbox object must carry the same defaults a real one would: pod spec fields, workload
replicas and strategies, a Job's generated selector, a Service's ClusterIP and nodePorts.
Address allocation is the store's state; defaulting reaches it only through ``Addresses``.
"""

from __future__ import annotations

from typing import Any, Protocol

from kgate.sandbox.apierrors import invalid
from kgate.sandbox.registry import ResourceType

Obj = dict[str, Any]


class Addresses(Protocol):
    """Where Service addresses come from (the store keeps the counters and sees other Services)."""

    def allocate_cluster_ip(self) -> str: ...

    def node_ports_in_use(self, exclude: tuple[str, str]) -> set[int]: ...

    def allocate_node_port(self, used: set[int]) -> int: ...


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


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


def apply_defaults(rt: ResourceType, obj: Obj, addresses: Addresses) -> None:
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
            spec["clusterIP"] = addresses.allocate_cluster_ip()
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
        _default_node_ports(rt, obj, spec, addresses)
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


def _default_node_ports(rt: ResourceType, obj: Obj, spec: Obj, addresses: Addresses) -> None:
    """NodePort and LoadBalancer Services get a nodePort per port unless they name a free one."""
    type_ = spec.get("type")
    if type_ not in ("NodePort", "LoadBalancer"):
        return
    spec.setdefault("externalTrafficPolicy", "Cluster")
    if type_ == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    used = addresses.node_ports_in_use(_key(obj))
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
            port["nodePort"] = addresses.allocate_node_port(used)
            used.add(port["nodePort"])


def carry_node_ports(old: Obj, new: Obj) -> None:
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
