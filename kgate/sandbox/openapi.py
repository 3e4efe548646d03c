"""Just enough OpenAPI for kubectl's write commands.

What kubectl 1.32 does with OpenAPI (measured against this server with ``-v=8``):

* ``apply``/``create -f``/``replace``/``edit`` validate with ``--validate=strict`` by default. They
  fetch ``/openapi/v3``, then the group/version document it points to, and look for the PATCH
  operation tagged with the object's ``x-kubernetes-group-version-kind`` that lists the
  ``fieldValidation`` query parameter. If it is there, validation is left to the server;
  otherwise kubectl wants full schemas ("failed to download openapi").
* client-side ``apply`` computes its strategic merge patch from the v3 schema only if the PATCH
  operation advertises ``application/strategic-merge-patch+json``; we leave it out, so kubectl
  uses the schemas compiled into it for built-in kinds.
* ``/openapi/v2``: kubectl 1.27 and 1.28 fetch it for ``apply`` as gnostic protobuf
  (``application/com.github.proto-openapi.spec.v2@v1.0+protobuf``) and fail without it. It is
  answered with a minimal valid document (``swagger``, ``info``, empty ``paths`` and
  ``definitions``) in protobuf or JSON, as asked; kubectl then uses its compiled-in schemas.

So each group/version document has one PATCH operation per resource, with its GVK and the query
parameters, and no schemas.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

import orjson

from kgate.sandbox.registry import Registry

_QUERY_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
                "application/apply-patch+yaml")


def gv_path(group: str, version: str) -> str:
    """``api/v1`` or ``apis/<group>/<version>``: the key kubectl looks up in the v3 root."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _gv_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    gv = registry.group_version(group, version)
    if gv is None:
        return None
    prefix = "/" + gv_path(group, version)
    paths: dict[str, Any] = {}
    for rt in gv.resources.values():
        gvk = {"group": group, "version": version, "kind": rt.kind}
        scope = f"{prefix}/namespaces/{{namespace}}" if rt.namespaced else prefix
        params = [{"name": p, "in": "query", "schema": {"type": "string"}}
                  for p in _QUERY_PARAMS]
        item: dict[str, Any] = {}
        if "patch" in rt.verbs:
            item["patch"] = {
                "operationId": f"patch{rt.kind}",
                "parameters": params,
                "requestBody": {"content": {t: {"schema": {"type": "object"}}
                                            for t in _PATCH_TYPES}},
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            }
        if "create" in rt.verbs:
            paths[f"{scope}/{rt.name}"] = {"post": {
                "operationId": f"create{rt.kind}", "parameters": params,
                "responses": {"201": {"description": "Created"}},
                "x-kubernetes-action": "post", "x-kubernetes-group-version-kind": gvk}}
        if item:
            paths[f"{scope}/{rt.name}/{{name}}"] = item
    return {"openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.32.0-kgate-sandbox"},
            "paths": paths, "components": {"schemas": {}}}


@cache
def gv_document_bytes(registry: Registry, group: str, version: str) -> bytes | None:
    """The serialised v3 document for one group/version (cached: it never changes)."""
    doc = _gv_document(registry, group, version)
    return orjson.dumps(doc) if doc is not None else None


@cache
def v3_root_bytes(registry: Registry) -> bytes:
    """``/openapi/v3``: where each group/version document lives, with a content hash."""
    paths: dict[str, Any] = {}
    for gv in registry.group_versions:
        body = gv_document_bytes(registry, gv.group, gv.version)
        assert body is not None
        digest = hashlib.sha512(body).hexdigest()[:64].upper()
        key = gv_path(gv.group, gv.version)
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return orjson.dumps({"paths": paths})


_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_V2_TITLE, _V2_VERSION = b"Kubernetes", b"v1.32.0-kgate-sandbox"


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (payloads here are short: one-byte lengths)."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def v2_document(accept: str) -> tuple[bytes, str]:
    """``/openapi/v2`` in the form asked for: gnostic ``openapi_v2.Document`` protobuf
    (swagger=1, info=2 {title=1, version=2}, paths=8, definitions=9) or JSON."""
    if "protobuf" in accept:
        info = _field(1, _V2_TITLE) + _field(2, _V2_VERSION)
        body = _field(1, b"2.0") + _field(2, info) + _field(8, b"") + _field(9, b"")
        return body, _V2_PROTOBUF
    return orjson.dumps({"swagger": "2.0", "info": {"title": _V2_TITLE.decode(),
                                                    "version": _V2_VERSION.decode()},
                         "paths": {}, "definitions": {}}), "application/json"
