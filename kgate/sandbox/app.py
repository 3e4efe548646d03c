"""The sandbox's aiohttp application: authentication, then one dispatcher for every path.

A request passes the auth middleware (bearer token → ``UserInfo``, else 401; health checks and
``/version`` also answer anonymously), then ``SandboxApi.handle``, which reads in one place how a
request finds its handler:

    non-resource path (health, version, discovery, OpenAPI)   → nonresource
    path → Target (resource, namespace, name, subresource)     → paths
    review-style virtual resources (whoami, can-i, token)      → reviews
    pod streams (log, exec, attach, portforward), scale        → subresources
    discovered but not stored                                  → reads.serve_unstored
    watch / list / get                                         → watch, reads
    create / update / patch / delete / deletecollection        → writes

Errors anywhere are ``ApiError``s, answered as the ``Status`` kube-apiserver would send.
Content negotiation and body decoding live in ``wire``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from kgate.sandbox import reads, writes
from kgate.sandbox.auth import Authenticator
from kgate.sandbox.nonresource import PUBLIC_PATHS, serve_fixed_path
from kgate.sandbox.paths import Target, parse_target
from kgate.sandbox.registry import Registry
from kgate.sandbox.reviews import USER_KEY, review_handler
from kgate.sandbox.store import ApiError, Store
from kgate.sandbox.subresources import STREAM_SUBRESOURCES, serve_scale, serve_stream
from kgate.sandbox.watch import serve_watch
from kgate.sandbox.wire import (
    delete_dry_run,
    error_response,
    flag,
    json_response,
    method_not_allowed,
    not_found_path,
)
from kgate.status import status

STORE_KEY = web.AppKey("store", Store)
REGISTRY_KEY = web.AppKey("registry", Registry)
AUTH_KEY = web.AppKey("authenticator", Authenticator)


@web.middleware
async def auth_middleware(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                          ) -> web.StreamResponse:
    """Bearer-token authentication; health and version endpoints also answer anonymously."""
    header = request.headers.get("Authorization")
    user = await request.app[AUTH_KEY].authenticate(header)
    if user is None and (header or request.path not in PUBLIC_PATHS):
        return json_response(status(401, "Unauthorized"), 401)
    if user is not None:
        request[USER_KEY] = user
    try:
        return await handler(request)
    except ApiError as err:
        return error_response(err)


class SandboxApi:
    """Dispatches every Kubernetes API request; holds no state besides store and registry."""

    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point of the catch-all route."""
        fixed = serve_fixed_path(request, self.registry)
        if fixed is not None:
            return fixed
        target = parse_target(self.registry, request.path)
        if target is None:
            return not_found_path()
        store = self.store
        review = review_handler(request, store, target)
        if review is not None:
            return await review
        if target.subresource in STREAM_SUBRESOURCES:
            return await serve_stream(request, store, target)
        if not target.rt.stored:
            return reads.serve_unstored(request, store, target)
        if target.subresource == "scale":
            return await serve_scale(request, store, target)
        if target.subresource not in (None, "status"):
            return method_not_allowed()
        return await self._verb(request, target)

    async def _verb(self, request: web.Request, target: Target) -> web.StreamResponse:
        """The REST verb on a stored resource, from method, query and whether a name is given."""
        store, method, named = self.store, request.method, target.name is not None
        if method == "GET":
            if target.watch_path or flag(request, "watch"):
                return await serve_watch(request, store, target)
            if named:
                return reads.serve_get(request, store, target)
            return reads.serve_list(request, store, target)
        if method == "POST" and not named:
            return await writes.serve_create(request, store, target)
        if method == "PUT" and named:
            return await writes.serve_update(request, store, target)
        if method == "PATCH" and named:
            return await writes.serve_patch(request, store, target)
        if method == "DELETE" and named:
            return writes.serve_delete(store, target, await delete_dry_run(request))
        if method == "DELETE":
            return writes.serve_delete_collection(request, store, target,
                                                  await delete_dry_run(request))
        return method_not_allowed()


def build_app(store: Store, registry: Registry, authenticator: Authenticator) -> web.Application:
    """The aiohttp application: auth middleware, then one catch-all Kubernetes API route."""
    app = web.Application(middlewares=[auth_middleware], client_max_size=64 * 1024 * 1024)
    app[STORE_KEY] = store
    app[REGISTRY_KEY] = registry
    app[AUTH_KEY] = authenticator
    api = SandboxApi(store, registry)
    app.router.add_route("*", "/{tail:.*}", api.handle)

    async def close_watches(_: web.Application) -> None:
        store.close_watches()

    app.on_shutdown.append(close_watches)
    return app


__all__ = ["SandboxApi", "build_app"]
