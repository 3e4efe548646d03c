"""The ``scale`` subresource and the hand-off of pod streams to ``kgate.sandbox.streams``.

``scale`` is a view of the parent's ``spec.replicas`` as an ``autoscaling/v1 Scale``; writing
it (PUT or any patch type) updates the parent, with the Scale's resourceVersion as the
precondition, so ``kubectl scale --resource-version`` conflicts like on a real cluster.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kgate.sandbox import streams
from kgate.sandbox.patch import PatchError
from kgate.sandbox.paths import Target
from kgate.sandbox.reads import fetch
from kgate.sandbox.store import ApiError, Store, bad_request, not_found
from kgate.sandbox.wire import dry_run, json_response, method_not_allowed, read_body
from kgate.sandbox.writes import apply_patch

Obj = dict[str, Any]
STREAM_SUBRESOURCES = frozenset({"log", "exec", "attach", "portforward"})


def scale_of(parent: Obj) -> Obj:
    """The ``autoscaling/v1 Scale`` view of a Deployment, ReplicaSet or StatefulSet."""
    meta = parent["metadata"]
    spec, st = parent.get("spec") or {}, parent.get("status") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                              "creationTimestamp") if k in meta},
            "spec": {"replicas": int(spec.get("replicas", 0))},
            "status": {"replicas": int(st.get("replicas", 0)),
                       "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))}}


async def serve_scale(request: web.Request, store: Store, target: Target) -> web.StreamResponse:
    """GET, PUT or PATCH on ``…/scale``."""
    parent = fetch(store, target)
    scale = scale_of(parent)
    if request.method == "GET":
        return json_response(scale)
    body = await read_body(request)
    if request.method == "PUT":
        new_scale = body
    elif request.method == "PATCH":
        try:
            new_scale = apply_patch(request.content_type, scale, body)
        except PatchError as err:
            raise ApiError(422, str(err)) from err
    else:
        return method_not_allowed()
    try:
        replicas = int((new_scale.get("spec") or {}).get("replicas", 0))
    except (TypeError, ValueError, AttributeError):
        raise bad_request("spec.replicas must be an integer") from None
    sent_rv = (new_scale.get("metadata") or {}).get("resourceVersion")
    parent["spec"]["replicas"] = replicas
    if sent_rv:
        parent["metadata"]["resourceVersion"] = sent_rv
    updated = store.update(target.rt, target.namespace, target.name or "", parent,
                           dry_run=dry_run(request))
    return json_response(scale_of(updated))


async def serve_stream(request: web.Request, store: Store, target: Target) -> web.StreamResponse:
    """``pods/log``, ``exec``, ``attach``, ``portforward`` of an existing pod."""
    ns, name = target.namespace, target.name or ""
    pod = store.get("", "pods", ns, name)
    if pod is None:
        raise not_found(target.rt, name)
    sub = target.subresource
    if sub == "log":
        if request.method != "GET":
            return method_not_allowed()
        return await streams.serve_pod_log(request, pod, lambda: store.get("", "pods", ns, name))
    if sub in ("exec", "attach"):
        def lookup(resource: str, namespace: str, obj_name: str) -> Obj | None:
            return store.get("", resource, namespace, obj_name)
        return await streams.serve_pod_exec(request, pod, lookup, sub == "attach")
    return await streams.serve_pod_portforward(request, pod)
