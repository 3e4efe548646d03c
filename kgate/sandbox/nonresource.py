"""Paths that name no resource: health checks, ``/version``, discovery and OpenAPI.

These answer before resource-path parsing. Anything outside ``/api/`` and ``/apis/`` that is not
listed here is a 404 with kube's message, so a client probing an optional endpoint (``/openapi/v2``)
falls back the way it does against a real server.
"""

from __future__ import annotations

from aiohttp import web

from kgate.sandbox import discovery, openapi
from kgate.sandbox.registry import Registry
from kgate.sandbox.wire import JSON, json_response, not_found_path

HEALTH_PATHS = ("/healthz", "/livez", "/readyz")
# Answered without credentials, as kube-apiserver's system:public-info-viewer allows.
# kube-apiserver serves ``/version/`` too, and the official Python client's VersionApi uses it.
VERSION_PATHS = ("/version", "/version/")
PUBLIC_PATHS = frozenset({*HEALTH_PATHS, *VERSION_PATHS})


def serve_fixed_path(request: web.Request, registry: Registry) -> web.StreamResponse | None:
    """The response for a non-resource path, or ``None`` if the path is a resource path."""
    path = request.path
    if path in HEALTH_PATHS or path.startswith(tuple(p + "/" for p in HEALTH_PATHS)):
        return web.Response(text="ok", content_type="text/plain")
    if path in VERSION_PATHS:
        return json_response(discovery.VERSION_INFO)
    accept = request.headers.get("Accept", "")
    if path in ("/api", "/apis"):
        if discovery.wants_aggregated(accept):
            return json_response(discovery.aggregated(registry, core=path == "/api"),
                                 content_type=discovery.AGGREGATED_V2)
        if path == "/api":
            return json_response(discovery.api_versions(request.host or "127.0.0.1"))
        return json_response(discovery.api_group_list(registry))
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["apis"] and len(parts) == 2:
        group_doc = discovery.api_group(registry, parts[1])
        return json_response(group_doc) if group_doc else not_found_path()
    if (parts[:1] == ["api"] and len(parts) == 2) or (parts[:1] == ["apis"] and len(parts) == 3):
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        doc = discovery.resource_list(registry, group, version)
        return json_response(doc) if doc else not_found_path()
    if path == "/openapi/v2":
        body, media = openapi.v2_document(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": media})
    if path == "/openapi/v3":
        return web.Response(body=openapi.v3_root_bytes(registry), content_type=JSON)
    if path.startswith("/openapi/v3/"):
        return _openapi_document(registry, path[len("/openapi/v3/"):].split("/"))
    if not path.startswith(("/api/", "/apis/")):
        return not_found_path()
    return None


def _openapi_document(registry: Registry, rest: list[str]) -> web.Response:
    body = None
    if rest[:1] == ["api"] and len(rest) == 2:
        body = openapi.gv_document_bytes(registry, "", rest[1])
    elif rest[:1] == ["apis"] and len(rest) == 3:
        body = openapi.gv_document_bytes(registry, rest[1], rest[2])
    if body is None:
        return not_found_path()
    return web.Response(body=body, content_type=JSON)
