"""The write verbs: create, update, patch, delete and deletecollection.

Each decodes the body (``wire.read_body``), lets the ``Store`` validate, default and version the
object, and answers with the stored object as kube-apiserver does (201 for a create, the deleted
object for a delete). Patches are computed here against the live object with
``kgate.sandbox.patch``; server-side apply creates the object when it does not exist yet.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kgate.sandbox import fields
from kgate.sandbox.patch import PatchError, apply_config, json_patch, merge_patch, strategic_merge
from kgate.sandbox.paths import Target
from kgate.sandbox.reads import list_body, list_objects, respond_object
from kgate.sandbox.store import ApiError, Store, bad_request, not_found
from kgate.sandbox.wire import dry_run, json_response, read_body

Obj = dict[str, Any]
APPLY_PATCH = "application/apply-patch+yaml"


def apply_patch(ctype: str, live: Obj, body: Any) -> Any:
    """``live`` with the patch ``body`` applied, by the patch type the Content-Type names."""
    if ctype == "application/merge-patch+json":
        return merge_patch(live, body)
    if ctype == "application/strategic-merge-patch+json":
        return strategic_merge(live, body)
    if ctype == "application/json-patch+json":
        return json_patch(live, body)
    if ctype == APPLY_PATCH:
        return apply_config(live, body)
    raise ApiError(415, 'the body of the request was in an unknown format - accepted media '
                   'types include: application/json-patch+json, application/merge-patch+json, '
                   'application/apply-patch+yaml, application/strategic-merge-patch+json',
                   reason="UnsupportedMediaType")


async def serve_create(request: web.Request, store: Store, target: Target) -> web.StreamResponse:
    """POST on a collection."""
    body = await read_body(request)
    warnings = fields.check_decoded(request, target.rt, body)
    obj = store.create(target.rt, target.namespace, body, dry_run=dry_run(request))
    return fields.add_warnings(respond_object(request, target, obj, 201), warnings)


async def serve_update(request: web.Request, store: Store, target: Target) -> web.StreamResponse:
    """PUT on an object or its status."""
    body = await read_body(request)
    warnings = fields.check_decoded(request, target.rt, body)
    obj = store.update(target.rt, target.namespace, target.name or "", body,
                       subresource=target.subresource, dry_run=dry_run(request))
    return fields.add_warnings(respond_object(request, target, obj), warnings)


async def serve_patch(request: web.Request, store: Store, target: Target) -> web.StreamResponse:
    """PATCH on an object or its status (merge, strategic merge, JSON patch, apply)."""
    rt, name = target.rt, target.name or ""
    body = await read_body(request)
    ctype = request.content_type
    dry = dry_run(request)
    live = store.get(rt.group, rt.name, target.namespace, name)
    fields.directive(request)
    warnings: list[str] = []
    if ctype == APPLY_PATCH:
        if not isinstance(body, dict):
            raise bad_request("the applied configuration must be an object")
        fields.check_applied(rt, target.namespace, name, body)
        if live is None:
            if target.subresource:
                raise not_found(rt, name)
            created = apply_config(None, body)
            created.setdefault("metadata", {})["name"] = name
            obj = store.create(rt, target.namespace, created, dry_run=dry)
            return respond_object(request, target, obj, 201)
        patched = apply_config(live, body)
        patched["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    else:
        if live is None:
            raise not_found(rt, name)
        try:
            patched = apply_patch(ctype, live, body)
        except PatchError as err:
            raise ApiError(422, str(err)) from err
        warnings = fields.check_patched(request, rt, patched)
    if not isinstance(patched, dict):
        raise bad_request("the patched object is not an object")
    obj = store.update(rt, target.namespace, name, patched, subresource=target.subresource,
                       dry_run=dry)
    return fields.add_warnings(respond_object(request, target, obj), warnings)


def serve_delete(store: Store, target: Target, dry: bool) -> web.StreamResponse:
    """DELETE on an object: the object as it was (a namespace shows ``Terminating``)."""
    rt = target.rt
    obj = store.delete(rt, target.namespace, target.name or "", dry_run=dry)
    obj["apiVersion"] = rt.group_version
    if rt.group == "" and rt.name == "namespaces":
        obj.setdefault("status", {})["phase"] = "Terminating"
    return json_response(obj)


def serve_delete_collection(request: web.Request, store: Store, target: Target, dry: bool
                            ) -> web.StreamResponse:
    """DELETE on a collection: the selected objects, as a list of what was deleted."""
    objs, _, _ = list_objects(request, store, target)
    deleted = [store.delete(target.rt, o["metadata"].get("namespace"), o["metadata"]["name"],
                            dry_run=dry) for o in objs]
    return json_response(list_body(store, target.rt, deleted))
