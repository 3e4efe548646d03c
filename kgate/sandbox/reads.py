"""The read verbs: get and list, shaped as kube-apiserver shapes them.

A list is filtered by label and field selectors, paged with ``limit``/``continue`` (tokens in
kube's own format, so kubectl's chunked ``get`` works), and answered as a ``<Kind>List``, a
``Table`` or a ``PartialObjectMetadataList`` as the Accept header asks. List items carry no
apiVersion/kind, like on a real server.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from aiohttp import web

from kgate.sandbox import tables
from kgate.sandbox.paths import Target
from kgate.sandbox.registry import ResourceType
from kgate.sandbox.selectors import SelectorError, make_filter
from kgate.sandbox.store import Store, bad_request, not_found
from kgate.sandbox.wire import (
    flag,
    json_response,
    meta_form,
    method_not_allowed,
    table_response,
    wants_table,
)

Obj = dict[str, Any]


def list_item(obj: Obj) -> Obj:
    """List items carry no apiVersion/kind on the wire, as from kube-apiserver."""
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}


def _encode_continue(rv: str, key: tuple[str, str]) -> str:
    token = orjson.dumps({"v": "meta.k8s.io/v1", "rv": int(rv), "start": "/".join(key) + "\x00"})
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        ns, _, name = str(data["start"]).rstrip("\x00").partition("/")
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                          "(version meta.k8s.io/v1)") from None
    return ns, name


def selector_filter(request: web.Request, rt: ResourceType
                    ) -> Callable[[Mapping[str, Any]], bool]:
    """The ``labelSelector``/``fieldSelector`` predicate; a bad selector is a 400."""
    try:
        return make_filter(request.query.get("labelSelector"),
                           request.query.get("fieldSelector"), rt.name)
    except SelectorError as err:
        raise bad_request(str(err)) from err


def list_objects(request: web.Request, store: Store, target: Target
                 ) -> tuple[list[Obj], str | None, int | None]:
    """The selected page of objects, the continue token and how many remain after it."""
    rt = target.rt
    keep = selector_filter(request, rt)
    objs = [o for o in store.list(rt.group, rt.name, target.namespace) if keep(o)]
    for o in objs:
        o["apiVersion"] = rt.group_version
    token = request.query.get("continue")
    if token:
        start = _decode_continue(token)
        objs = [o for o in objs if (o["metadata"].get("namespace", ""), o["metadata"]["name"])
                > start]
    limit = int(request.query.get("limit", "0") or 0)
    if limit > 0 and len(objs) > limit:
        last = objs[limit - 1]["metadata"]
        remaining = len(objs) - limit
        return objs[:limit], _encode_continue(store.resource_version, (
            last.get("namespace", ""), last["name"])), remaining
    return objs, None, None


def list_body(store: Store, rt: ResourceType, objs: list[Obj], cont: str | None = None,
              remaining: int | None = None) -> Obj:
    """A ``<Kind>List`` at the store's current resourceVersion."""
    meta: Obj = {"resourceVersion": store.resource_version}
    if cont:
        meta["continue"] = cont
    if remaining:
        meta["remainingItemCount"] = remaining
    return {"kind": f"{rt.kind}List", "apiVersion": rt.group_version, "metadata": meta,
            "items": [list_item(o) for o in objs]}


def serve_list(request: web.Request, store: Store, target: Target) -> web.StreamResponse:
    """GET on a collection."""
    objs, cont, remaining = list_objects(request, store, target)
    if wants_table(request):
        return table_response(tables.to_table(
            target.rt.kind, objs, resource_version=store.resource_version,
            include_object=request.query.get("includeObject", "Metadata"),
            continue_token=cont))
    body = list_body(store, target.rt, objs, cont, remaining)
    if meta_form(request) in ("PartialObjectMetadata", "PartialObjectMetadataList"):
        body.update(kind="PartialObjectMetadataList", apiVersion="meta.k8s.io/v1",
                    items=[tables.partial_metadata(o) for o in objs])
    return json_response(body)


def fetch(store: Store, target: Target) -> Obj:
    """The named object (a copy, with the URL's apiVersion), or 404."""
    rt, name = target.rt, target.name or ""
    obj = store.get(rt.group, rt.name, target.namespace, name)
    if obj is None:
        raise not_found(rt, name)
    obj["apiVersion"] = rt.group_version
    return obj


def respond_object(request: web.Request, target: Target, obj: Obj,
                   code: int = 200) -> web.StreamResponse:
    """One object as JSON, a one-row Table or PartialObjectMetadata, as the client asked."""
    if wants_table(request):
        return table_response(tables.to_table(
            target.rt.kind, [obj], resource_version=obj["metadata"].get("resourceVersion", ""),
            include_object=request.query.get("includeObject", "Metadata")), code)
    if meta_form(request) == "PartialObjectMetadata":
        return json_response(tables.partial_metadata(obj), code)
    return json_response(obj, code)


def serve_get(request: web.Request, store: Store, target: Target) -> web.StreamResponse:
    """GET on a named object."""
    return respond_object(request, target, fetch(store, target))


def serve_unstored(request: web.Request, store: Store, target: Target) -> web.StreamResponse:
    """A discovered resource the sandbox does not store: lists are empty, names are 404."""
    if request.method == "GET" and target.name is None and target.subresource is None:
        if wants_table(request):
            return json_response(tables.to_table(
                target.rt.kind, [], resource_version=store.resource_version))
        if target.watch_path or flag(request, "watch"):
            return method_not_allowed()
        return json_response(list_body(store, target.rt, []))
    if request.method == "GET" and target.name:
        raise not_found(target.rt, target.name)
    return method_not_allowed()
