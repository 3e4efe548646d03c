"""Server-side printing: ``meta.k8s.io/v1 Table`` responses like kube-apiserver's printers.

``kubectl get`` asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the cells it
gets back verbatim, so the columns and cell formats (``1/1``, ``Running``, ``5m``) must match the
real printers for the kinds users look at. Rows carry ``PartialObjectMetadata`` by default, the
whole object with ``includeObject=Object`` and nothing with ``includeObject=None``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Column = tuple[str, str, int, str]          # name, type, priority, description
Printer = tuple[list[Column], Callable[[Obj, dt.datetime], list[Any]]]

_NAME: Column = ("Name", "string", 0, "Name must be unique within a namespace.")
_AGE: Column = ("Age", "string", 0, "CreationTimestamp is a timestamp representing the server "
                "time when this object was created.")


def human_duration(seconds: float) -> str:
    """kube's ``duration.HumanDuration`` (the AGE column)."""
    if seconds < -1:
        return "<invalid>"
    s = max(int(seconds), 0)
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m" if s % 60 == 0 else f"{m}m{s % 60}s"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h" if m % 60 == 0 else f"{h}h{m % 60}m"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d" if h % 24 == 0 else f"{h // 24}d{h % 24}h"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        y, d = h // (24 * 365), (h // 24) % 365
        return f"{y}y" if d == 0 else f"{y}y{d}d"
    return f"{h // (24 * 365)}y"


def _age(obj: Obj, now: dt.datetime) -> str:
    ts = (obj.get("metadata") or {}).get("creationTimestamp")
    if not ts:
        return "<unknown>"
    return human_duration((now - _parse_ts(ts)).total_seconds())


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _containers(obj: Obj) -> tuple[str, str]:
    cs = (((_spec(obj).get("template") or {}).get("spec") or {}).get("containers") or [])
    return (",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs))


def _selector(obj: Obj) -> str:
    sel = _spec(obj).get("selector") or {}
    labels = sel.get("matchLabels", sel) if isinstance(sel, dict) else {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if isinstance(v, str)) or \
        "<none>"


def _pod_row(obj: Obj, now: dt.datetime) -> list[Any]:
    spec, st = _spec(obj), _status(obj)
    statuses = st.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    reason = st.get("reason") or st.get("phase") or "Pending"
    for c in statuses:
        state = c.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state and state["terminated"].get("reason"):
            reason = state["terminated"]["reason"]
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return [_name(obj), f"{ready}/{len(spec.get('containers') or [])}", reason, str(restarts),
            _age(obj, now), st.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
            st.get("nominatedNodeName") or "<none>", "<none>"]


def _deployment_row(obj: Obj, now: dt.datetime) -> list[Any]:
    st = _status(obj)
    names, images = _containers(obj)
    return [_name(obj), f"{st.get('readyReplicas', 0)}/{_spec(obj).get('replicas', 0)}",
            int(st.get("updatedReplicas", 0)), int(st.get("availableReplicas", 0)),
            _age(obj, now), names, images, _selector(obj)]


def _replicaset_row(obj: Obj, now: dt.datetime) -> list[Any]:
    st = _status(obj)
    names, images = _containers(obj)
    return [_name(obj), int(_spec(obj).get("replicas", 0)), int(st.get("replicas", 0)),
            int(st.get("readyReplicas", 0)), _age(obj, now), names, images, _selector(obj)]


def _statefulset_row(obj: Obj, now: dt.datetime) -> list[Any]:
    names, images = _containers(obj)
    return [_name(obj), f"{_status(obj).get('readyReplicas', 0)}/"
            f"{_spec(obj).get('replicas', 0)}", _age(obj, now), names, images]


def _service_row(obj: Obj, now: dt.datetime) -> list[Any]:
    spec = _spec(obj)
    ports = ",".join(
        f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/"
        f"{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    external = ",".join(spec.get("externalIPs") or []) or (
        "<pending>" if spec.get("type") == "LoadBalancer" else "<none>")
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [_name(obj), spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>",
            external, ports, _age(obj, now), selector or "<none>"]


def _secret_row(obj: Obj, now: dt.datetime) -> list[Any]:
    return [_name(obj), obj.get("type", "Opaque"), len(obj.get("data") or {}), _age(obj, now)]


def _configmap_row(obj: Obj, now: dt.datetime) -> list[Any]:
    return [_name(obj), len(obj.get("data") or {}) + len(obj.get("binaryData") or {}),
            _age(obj, now)]


def _namespace_row(obj: Obj, now: dt.datetime) -> list[Any]:
    return [_name(obj), _status(obj).get("phase", "Active"), _age(obj, now)]


def _serviceaccount_row(obj: Obj, now: dt.datetime) -> list[Any]:
    return [_name(obj), len(obj.get("secrets") or []), _age(obj, now)]


def _parse_ts(ts: str) -> dt.datetime:
    return dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def _has_condition(obj: Obj, type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True"
               for c in _status(obj).get("conditions") or [])


def _job_row(obj: Obj, now: dt.datetime) -> list[Any]:
    spec, st = _spec(obj), _status(obj)
    # kube 1.32's order: terminal conditions first, then deletion, then interim conditions.
    if (obj.get("metadata") or {}).get("deletionTimestamp") and not (
            _has_condition(obj, "Complete") or _has_condition(obj, "Failed")):
        status = "Terminating"
    else:
        status = next((c for c in ("Complete", "Failed", "Suspended", "FailureTarget",
                                   "SuccessCriteriaMet") if _has_condition(obj, c)), "Running")
    done = int(st.get("succeeded", 0))
    if spec.get("completions") is not None:
        completions = f"{done}/{spec['completions']}"
    elif int(spec.get("parallelism") or 1) > 1:
        completions = f"{done}/1 of {spec['parallelism']}"
    else:
        completions = f"{done}/1"
    duration = ""
    if st.get("startTime"):
        end = _parse_ts(st["completionTime"]) if st.get("completionTime") else now
        duration = human_duration((end - _parse_ts(st["startTime"])).total_seconds())
    names, images = _containers(obj)
    return [_name(obj), status, completions, duration, _age(obj, now), names, images,
            _selector(obj)]


def _cronjob_row(obj: Obj, now: dt.datetime) -> list[Any]:
    spec = _spec(obj)
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    names, images = _containers({"spec": job_spec})
    suspend = spec.get("suspend")
    last = _status(obj).get("lastScheduleTime")
    last_age = human_duration((now - _parse_ts(last)).total_seconds()) if last else "<none>"
    return [_name(obj), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            "<unset>" if suspend is None else str(bool(suspend)),
            len(_status(obj).get("active") or []), last_age,
            _age(obj, now), names, images, _selector({"spec": job_spec})]


def _binding_row(obj: Obj, now: dt.datetime) -> list[Any]:
    ref = obj.get("roleRef") or {}
    subjects = obj.get("subjects") or []

    def of(kind: str) -> str:
        return ",".join(
            (f"{s.get('namespace', '')}/{s.get('name', '')}" if kind == "ServiceAccount"
             else str(s.get("name", ""))) for s in subjects if s.get("kind") == kind)

    return [_name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", _age(obj, now),
            of("User"), of("Group"), of("ServiceAccount")]


def _ingress_row(obj: Obj, now: dt.datetime) -> list[Any]:
    spec = _spec(obj)
    rules = spec.get("rules") or []
    hosts = [r["host"] for r in rules[:3] if r.get("host")]
    shown = ",".join(hosts) or "*"
    if len(rules) > 3:
        shown += f" + {len(rules) - 3} more..."
    ingress = (_status(obj).get("loadBalancer") or {}).get("ingress") or []
    address = ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress)
    return [_name(obj), spec.get("ingressClassName") or "<none>", shown, address,
            "80, 443" if spec.get("tls") else "80", _age(obj, now)]


def _pdb_row(obj: Obj, now: dt.datetime) -> list[Any]:
    spec = _spec(obj)
    return [_name(obj), str(spec.get("minAvailable", "N/A")),
            str(spec.get("maxUnavailable", "N/A")),
            int(_status(obj).get("disruptionsAllowed", 0)), _age(obj, now)]


def _quota_row(obj: Obj, now: dt.datetime) -> list[Any]:
    st = _status(obj)
    used, hard = st.get("used") or {}, st.get("hard") or {}
    request: list[str] = []
    limit: list[str] = []
    for resource in sorted(_spec(obj).get("hard") or {}):
        column = limit if resource.split(".")[0] == "limits" and "." in resource else request
        column.append(f"{resource}: {used.get(resource, '0')}/{hard.get(resource, '0')}")
    return [_name(obj), _age(obj, now), ", ".join(request), ", ".join(limit)]


def _event_row(obj: Obj, now: dt.datetime) -> list[Any]:
    involved = obj.get("involvedObject") or {}
    return [_age(obj, now), obj.get("type", ""), obj.get("reason", ""),
            f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
            obj.get("message", "")]


def _created_at_row(obj: Obj, now: dt.datetime) -> list[Any]:
    return [_name(obj), (obj.get("metadata") or {}).get("creationTimestamp")]


def _default_row(obj: Obj, now: dt.datetime) -> list[Any]:
    return [_name(obj), _age(obj, now)]


def _c(name: str, type_: str = "string", priority: int = 0, description: str = "") -> Column:
    return (name, type_, priority, description)


_BINDING_COLUMNS = [_NAME, _c("Role"), _AGE, _c("Users", priority=1),
                    _c("Groups", priority=1), _c("ServiceAccounts", priority=1)]

PRINTERS: dict[str, Printer] = {
    "Pod": ([_NAME, _c("Ready"), _c("Status"), _c("Restarts"), _AGE, _c("IP", priority=1),
             _c("Node", priority=1), _c("Nominated Node", priority=1),
             _c("Readiness Gates", priority=1)], _pod_row),
    "Deployment": ([_NAME, _c("Ready"), _c("Up-to-date", "integer"),
                    _c("Available", "integer"), _AGE, _c("Containers", priority=1),
                    _c("Images", priority=1), _c("Selector", priority=1)], _deployment_row),
    "ReplicaSet": ([_NAME, _c("Desired", "integer"), _c("Current", "integer"),
                    _c("Ready", "integer"), _AGE, _c("Containers", priority=1),
                    _c("Images", priority=1), _c("Selector", priority=1)], _replicaset_row),
    "StatefulSet": ([_NAME, _c("Ready"), _AGE, _c("Containers", priority=1),
                     _c("Images", priority=1)], _statefulset_row),
    "Service": ([_NAME, _c("Type"), _c("Cluster-IP"), _c("External-IP"), _c("Port(s)"), _AGE,
                 _c("Selector", priority=1)], _service_row),
    "Secret": ([_NAME, _c("Type"), _c("Data", "integer"), _AGE], _secret_row),
    "ConfigMap": ([_NAME, _c("Data", "integer"), _AGE], _configmap_row),
    "Namespace": ([_NAME, _c("Status"), _AGE], _namespace_row),
    "ServiceAccount": ([_NAME, _c("Secrets", "integer"), _AGE], _serviceaccount_row),
    "Job": ([_NAME, _c("Status"), _c("Completions"), _c("Duration"), _AGE,
             _c("Containers", priority=1), _c("Images", priority=1),
             _c("Selector", priority=1)], _job_row),
    "CronJob": ([_NAME, _c("Schedule"), _c("Timezone"), _c("Suspend", "boolean"),
                 _c("Active", "integer"), _c("Last Schedule"), _AGE,
                 _c("Containers", priority=1), _c("Images", priority=1),
                 _c("Selector", priority=1)], _cronjob_row),
    "RoleBinding": (_BINDING_COLUMNS, _binding_row),
    "ClusterRoleBinding": (_BINDING_COLUMNS, _binding_row),
    "Ingress": ([_NAME, _c("Class"), _c("Hosts"), _c("Address"), _c("Ports"), _AGE],
                _ingress_row),
    "PodDisruptionBudget": ([_NAME, _c("Min Available"), _c("Max Unavailable"),
                             _c("Allowed Disruptions", "integer"), _AGE], _pdb_row),
    "ResourceQuota": ([_NAME, _AGE, _c("Request"), _c("Limit")], _quota_row),
    "Event": ([_c("Last Seen"), _c("Type"), _c("Reason"), _c("Object"), _c("Message")],
              _event_row),
    "Role": ([_NAME, _c("Created At", "date")], _created_at_row),
    "ClusterRole": ([_NAME, _c("Created At", "date")], _created_at_row),
}
_DEFAULT: Printer = ([_NAME, _AGE], _default_row)


def partial_metadata(obj: Obj) -> Obj:
    """The ``PartialObjectMetadata`` a Table row carries by default."""
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {}}


def to_table(kind: str, objects: list[Obj], *, resource_version: str,
             include_object: str = "Metadata", headers: bool = True,
             continue_token: str | None = None) -> Obj:
    """Render objects of one kind as a ``meta.k8s.io/v1 Table``."""
    columns, row_fn = PRINTERS.get(kind, _DEFAULT)
    now = dt.datetime.now(dt.UTC)
    rows = []
    for obj in objects:
        row: Obj = {"cells": row_fn(obj, now)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    meta: Obj = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    table: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                  "columnDefinitions": [
                      {"name": n, "type": t, "format": "name" if n == "Name" else "",
                       "description": d, "priority": p} for n, t, p, d in columns]
                  if headers else [],
                  "rows": rows}
    return table

