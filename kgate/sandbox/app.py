"""The sandbox's aiohttp application: middleware (auth), routing and the REST verbs.

A request passes authentication (bearer token → ``UserInfo``, else 401), then one catch-all
handler that parses the Kubernetes path (``/api/v1/namespaces/ns/pods/name/log``) into a
``Target`` and dispatches on verb and subresource. Objects are read and written through the
``Store``; response shaping (List, Table, watch events) happens here. Responses are always JSON
(also when kubectl says it prefers protobuf); protobuf *request* bodies are decoded by
``kgate.sandbox.protobuf``; log/exec/attach/port-forward are served by ``kgate.sandbox.streams``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import datetime as dt
import importlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import yaml
from aiohttp import web

from kgate.sandbox import discovery, openapi, tables
from kgate.sandbox.auth import Authenticator, UserInfo
from kgate.sandbox.patch import PatchError, apply_config, json_patch, merge_patch, strategic_merge
from kgate.sandbox.registry import Registry, ResourceType
from kgate.sandbox.selectors import SelectorError, make_filter
from kgate.sandbox.store import ApiError, Store, WatchEvent, bad_request, not_found, qualified
from kgate.status import status

Obj = dict[str, Any]
STORE_KEY = web.AppKey("store", Store)
REGISTRY_KEY = web.AppKey("registry", Registry)
AUTH_KEY = web.AppKey("authenticator", Authenticator)
USER_KEY = web.RequestKey("user", UserInfo)

JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"
TABLE_PARAMS = ("as=Table", "g=meta.k8s.io")
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})
STREAM_SUBRESOURCES = frozenset({"log", "exec", "attach", "portforward"})
DEFAULT_WATCH_SECONDS = 1800
BOOKMARK_EVERY = 10.0


def json_response(body: Any, status_code: int = 200, content_type: str = JSON) -> web.Response:
    """Serialise ``body`` with orjson."""
    resp = web.Response(body=orjson.dumps(body), status=status_code)
    resp.headers["Content-Type"] = content_type
    return resp


def error_response(err: ApiError) -> web.Response:
    """The ``Status`` body of an ``ApiError``."""
    return json_response(err.body, err.code)


# ---- middleware -------------------------------------------------------------------------------
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


# ---- path parsing -----------------------------------------------------------------------------
@dataclass
class Target:
    """What a resource URL names."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_path: bool


def parse_target(registry: Registry, path: str) -> Target | None:
    """Parse ``/api/v1/…`` or ``/apis/g/v/…``; ``None`` if the path names no known resource."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch_path = bool(rest) and rest[0] == "watch"
    if watch_path:
        rest = rest[1:]
    gv = registry.group_version(group, version)
    if gv is None or not rest:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] in gv.resources \
            and gv.resources[rest[2]].namespaced:
        namespace, rest = rest[1], rest[2:]
    rt = gv.resources.get(rest[0])
    if rt is None or len(rest) > 3:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in rt.subresources:
        return None
    if rt.namespaced and namespace is None and name is not None:
        return None
    return Target(rt, namespace, name, sub, watch_path)


# ---- content negotiation ----------------------------------------------------------------------
def meta_form(request: web.Request) -> str | None:
    """``Table``, ``PartialObjectMetadata`` or ``PartialObjectMetadataList`` if the client asks
    for that ``meta.k8s.io`` transformation (kubectl lists it before plain JSON), else None."""
    accept = request.headers.get("Accept", "")
    for part in accept.split(","):
        params = dict(p.strip().partition("=")[::2] for p in part.split(";")[1:])
        if params.get("g") == "meta.k8s.io" and params.get("as") in (
                "Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
            return params["as"]
    return None


def wants_table(request: web.Request) -> bool:
    """Whether the client asked for ``meta.k8s.io/v1 Table`` responses."""
    return meta_form(request) == "Table"


async def read_body(request: web.Request) -> Any:
    """Decode a request body by Content-Type: JSON, YAML or Kubernetes protobuf."""
    raw = await request.read()
    ctype = request.content_type
    if ctype == PROTOBUF:
        try:
            decoder = importlib.import_module("kgate.sandbox.protobuf")
        except ImportError:
            raise ApiError(415, "the sandbox cannot decode protobuf request bodies yet",
                           reason="UnsupportedMediaType") from None
        try:
            return decoder.decode_object(raw)
        except ValueError as err:
            raise ApiError(415, f"the body of the request could not be decoded: {err}",
                           reason="UnsupportedMediaType") from err
    if not raw:
        raise bad_request("the body of the request was empty")
    try:
        if ctype.endswith("yaml"):
            return yaml.safe_load(raw)
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, yaml.YAMLError) as err:
        raise bad_request(f"the body of the request could not be decoded: {err}") from err


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def _dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise bad_request(f'Invalid dry run value: "{v}"; supported values are "All"')
    return bool(values)


async def _delete_dry_run(request: web.Request) -> bool:
    """``dryRun`` may come as a query parameter or inside a DeleteOptions body."""
    dry_run = _dry_run(request)
    if request.can_read_body and request.content_type != PROTOBUF:
        try:
            options = await read_body(request)
        except ApiError:
            options = None
        if isinstance(options, dict) and options.get("dryRun"):
            if options["dryRun"] != ["All"]:
                raise bad_request(f'Invalid dry run value: "{options["dryRun"]}"')
            dry_run = True
    return dry_run


# ---- list shaping -----------------------------------------------------------------------------
def _item(obj: Obj) -> Obj:
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


def _list_objects(request: web.Request, store: Store, target: Target
                  ) -> tuple[list[Obj], str | None, int | None]:
    rt = target.rt
    try:
        keep = make_filter(request.query.get("labelSelector"),
                           request.query.get("fieldSelector"), rt.name)
    except SelectorError as err:
        raise bad_request(str(err)) from err
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


# ---- the handler ------------------------------------------------------------------------------
class SandboxApi:
    """Dispatches every Kubernetes API request; holds no state besides store and registry."""

    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point of the catch-all route."""
        path = request.path
        fixed = await self._fixed_path(request, path)
        if fixed is not None:
            return fixed
        target = parse_target(self.registry, path)
        if target is None:
            return json_response(status(404, "the server could not find the requested resource",
                                        details={}), 404)
        rt, method = target.rt, request.method
        virtual = self._virtual(request, target)
        if virtual is not None:
            return await virtual
        if target.subresource in STREAM_SUBRESOURCES:
            return await self._stream(request, target)
        if not rt.stored:
            return self._unstored(request, target)
        if target.subresource == "scale":
            return await self._scale(request, target)
        if target.subresource not in (None, "status"):
            return _method_not_allowed()
        watching = target.watch_path or _flag(request, "watch")
        if method == "GET" and (watching or target.name is None):
            if watching:
                return await self._watch(request, target)
            return self._list(request, target)
        if method == "GET":
            return self._get(request, target)
        if method == "POST" and target.name is None:
            return await self._create(request, target)
        if method == "PUT" and target.name is not None:
            return await self._update(request, target)
        if method == "PATCH" and target.name is not None:
            return await self._patch(request, target)
        if method == "DELETE" and target.name is not None:
            return self._delete(request, target, await _delete_dry_run(request))
        if method == "DELETE":
            return self._delete_collection(request, target, await _delete_dry_run(request))
        return _method_not_allowed()

    # -- non-resource paths --
    async def _fixed_path(self, request: web.Request, path: str) -> web.StreamResponse | None:
        reg = self.registry
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(
                ("/healthz/", "/livez/", "/readyz/")):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/version":
            return json_response(discovery.VERSION_INFO)
        accept = request.headers.get("Accept", "")
        if path in ("/api", "/apis"):
            if discovery.wants_aggregated(accept):
                return json_response(discovery.aggregated(reg, core=path == "/api"),
                                     content_type=discovery.AGGREGATED_V2)
            if path == "/api":
                host = request.host or "127.0.0.1"
                return json_response(discovery.api_versions(host))
            return json_response(discovery.api_group_list(reg))
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["apis"] and len(parts) == 2:
            group_doc = discovery.api_group(reg, parts[1])
            return json_response(group_doc) if group_doc else _not_found_path()
        if (parts[:1] == ["api"] and len(parts) == 2) or (parts[:1] == ["apis"]
                                                          and len(parts) == 3):
            group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
            doc = discovery.resource_list(reg, group, version)
            return json_response(doc) if doc else _not_found_path()
        if path == "/openapi/v3":
            return web.Response(body=openapi.v3_root_bytes(reg), content_type=JSON)
        if path.startswith("/openapi/v3/"):
            rest = path[len("/openapi/v3/"):].split("/")
            body = None
            if rest[:1] == ["api"] and len(rest) == 2:
                body = openapi.gv_document_bytes(reg, "", rest[1])
            elif rest[:1] == ["apis"] and len(rest) == 3:
                body = openapi.gv_document_bytes(reg, rest[1], rest[2])
            if body is None:
                return _not_found_path()
            return web.Response(body=body, content_type=JSON)
        if path in ("/openapi/v2", "/swagger-2.0.0.pb-v1", "/swagger.json"):
            return _not_found_path()
        if not path.startswith(("/api/", "/apis/")):
            return _not_found_path()
        return None

    # -- review-style virtual resources (authentication/authorization) --
    def _virtual(self, request: web.Request, target: Target
                 ) -> Awaitable[web.StreamResponse] | None:
        rt = target.rt
        if rt.group == "authentication.k8s.io" and rt.name == "selfsubjectreviews":
            return self._review(request, target, lambda body, user: {
                "userInfo": _user_info(user)})
        if rt.group == "authorization.k8s.io" and rt.name in (
                "selfsubjectaccessreviews", "subjectaccessreviews",
                "localsubjectaccessreviews"):
            return self._review(request, target, lambda body, user: {
                "allowed": True, "reason": "the kgate sandbox allows every authenticated user"})
        if rt.group == "authorization.k8s.io" and rt.name == "selfsubjectrulesreviews":
            return self._review(request, target, lambda body, user: {
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": False})
        if rt.group == "" and rt.name == "serviceaccounts" and target.subresource == "token":
            return self._token_request(request, target)
        return None

    async def _token_request(self, request: web.Request, target: Target) -> web.StreamResponse:
        """TokenRequest: a JWT-shaped token for the ServiceAccount (valid nowhere)."""
        if request.method != "POST":
            return _method_not_allowed()
        name, ns = target.name or "", target.namespace
        if self.store.get("", "serviceaccounts", ns, name) is None:
            raise not_found(target.rt, name)
        try:
            body = await read_body(request)
        except ApiError as err:
            if err.code != 415:
                raise
            body = {}
        spec = dict(body.get("spec") or {}) if isinstance(body, dict) else {}
        spec.setdefault("audiences", ["https://kubernetes.default.svc.cluster.local"])
        spec.setdefault("expirationSeconds", 3600)
        spec.setdefault("boundObjectRef", None)
        return json_response({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": None},
            "spec": spec,
            "status": {"token": fake_service_account_token(ns or "", name),
                       "expirationTimestamp": expiry_rfc3339(int(spec["expirationSeconds"]))},
        }, 201)

    async def _review(self, request: web.Request, target: Target,
                      answer: Callable[[Obj, UserInfo], Obj]) -> web.StreamResponse:
        if request.method != "POST":
            return _method_not_allowed()
        try:
            body = await read_body(request)
        except ApiError as err:
            if err.code != 415:
                raise
            body = {}      # the answer does not depend on the body; kubectl sends protobuf
        if not isinstance(body, dict):
            raise bad_request("the body of the request was in an unknown format")
        user = request[USER_KEY]
        out = {"kind": target.rt.kind, "apiVersion": target.rt.group_version,
               "metadata": {"creationTimestamp": None}}
        if "spec" in body:
            out["spec"] = body["spec"]
        out["status"] = answer(body, user)
        return json_response(out, 201)

    # -- streaming subresources (engineer B's module) --
    async def _stream(self, request: web.Request, target: Target) -> web.StreamResponse:
        rt, ns, name = target.rt, target.namespace, target.name or ""
        pod = self.store.get("", "pods", ns, name)
        if pod is None:
            raise not_found(rt, name)
        try:
            streams: Any = importlib.import_module("kgate.sandbox.streams")
        except ImportError:
            return json_response(status(501, f"pods/{target.subresource} is not implemented in "
                                        "this sandbox build", reason="NotImplemented"), 501)
        sub = target.subresource
        if sub == "log":
            if request.method != "GET":
                return _method_not_allowed()
            return await streams.serve_pod_log(
                request, pod, lambda: self.store.get("", "pods", ns, name))
        if sub in ("exec", "attach"):
            def lookup(resource: str, namespace: str, obj_name: str) -> Obj | None:
                return self.store.get("", resource, namespace, obj_name)
            return await streams.serve_pod_exec(request, pod, lookup, sub == "attach")
        return await streams.serve_pod_portforward(request, pod)

    def _unstored(self, request: web.Request, target: Target) -> web.StreamResponse:
        if request.method == "GET" and target.name is None and target.subresource is None:
            if wants_table(request):
                return json_response(tables.to_table(
                    target.rt.kind, [], resource_version=self.store.resource_version))
            if target.watch_path or _flag(request, "watch"):
                return _method_not_allowed()
            return json_response(self._list_body(target.rt, [], None, None))
        if request.method == "GET" and target.name:
            raise not_found(target.rt, target.name)
        return _method_not_allowed()

    # -- reads --
    def _list_body(self, rt: ResourceType, objs: list[Obj], cont: str | None,
                   remaining: int | None) -> Obj:
        meta: Obj = {"resourceVersion": self.store.resource_version}
        if cont:
            meta["continue"] = cont
        if remaining:
            meta["remainingItemCount"] = remaining
        return {"kind": f"{rt.kind}List", "apiVersion": rt.group_version, "metadata": meta,
                "items": [_item(o) for o in objs]}

    def _list(self, request: web.Request, target: Target) -> web.StreamResponse:
        objs, cont, remaining = _list_objects(request, self.store, target)
        if wants_table(request):
            return _table_response(tables.to_table(
                target.rt.kind, objs, resource_version=self.store.resource_version,
                include_object=request.query.get("includeObject", "Metadata"),
                continue_token=cont))
        body = self._list_body(target.rt, objs, cont, remaining)
        if meta_form(request) in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            body.update(kind="PartialObjectMetadataList", apiVersion="meta.k8s.io/v1",
                        items=[tables.partial_metadata(o) for o in objs])
        return json_response(body)

    def _fetch(self, target: Target) -> Obj:
        rt, name = target.rt, target.name or ""
        obj = self.store.get(rt.group, rt.name, target.namespace, name)
        if obj is None:
            raise not_found(rt, name)
        obj["apiVersion"] = rt.group_version
        return obj

    def _respond_object(self, request: web.Request, target: Target, obj: Obj,
                        code: int = 200) -> web.StreamResponse:
        if wants_table(request):
            return _table_response(tables.to_table(
                target.rt.kind, [obj], resource_version=obj["metadata"].get(
                    "resourceVersion", ""),
                include_object=request.query.get("includeObject", "Metadata")), code)
        if meta_form(request) == "PartialObjectMetadata":
            return json_response(tables.partial_metadata(obj), code)
        return json_response(obj, code)

    def _get(self, request: web.Request, target: Target) -> web.StreamResponse:
        return self._respond_object(request, target, self._fetch(target))

    # -- writes --
    async def _create(self, request: web.Request, target: Target) -> web.StreamResponse:
        body = await read_body(request)
        obj = self.store.create(target.rt, target.namespace, body, dry_run=_dry_run(request))
        return self._respond_object(request, target, obj, 201)

    async def _update(self, request: web.Request, target: Target) -> web.StreamResponse:
        body = await read_body(request)
        obj = self.store.update(target.rt, target.namespace, target.name or "", body,
                                subresource=target.subresource, dry_run=_dry_run(request))
        return self._respond_object(request, target, obj)

    async def _patch(self, request: web.Request, target: Target) -> web.StreamResponse:
        rt, name = target.rt, target.name or ""
        body = await read_body(request)
        ctype = request.content_type
        dry_run = _dry_run(request)
        live = self.store.get(rt.group, rt.name, target.namespace, name)
        if ctype == "application/apply-patch+yaml":
            if not isinstance(body, dict):
                raise bad_request("the applied configuration must be an object")
            if live is None:
                if target.subresource:
                    raise not_found(rt, name)
                created = apply_config(None, body)
                created.setdefault("metadata", {})["name"] = name
                obj = self.store.create(rt, target.namespace, created, dry_run=dry_run)
                return self._respond_object(request, target, obj, 201)
            patched = apply_config(live, body)
            patched["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        else:
            if live is None:
                raise not_found(rt, name)
            try:
                patched = _apply_patch(ctype, live, body)
            except PatchError as err:
                raise ApiError(422, str(err)) from err
        if not isinstance(patched, dict):
            raise bad_request("the patched object is not an object")
        obj = self.store.update(rt, target.namespace, name, patched,
                                subresource=target.subresource, dry_run=dry_run)
        return self._respond_object(request, target, obj)

    def _delete(self, request: web.Request, target: Target, dry_run: bool
                ) -> web.StreamResponse:
        rt = target.rt
        obj = self.store.delete(rt, target.namespace, target.name or "", dry_run=dry_run)
        obj["apiVersion"] = rt.group_version
        if rt.group == "" and rt.name == "namespaces":
            obj.setdefault("status", {})["phase"] = "Terminating"
        return json_response(obj)

    def _delete_collection(self, request: web.Request, target: Target, dry_run: bool
                           ) -> web.StreamResponse:
        objs, _, _ = _list_objects(request, self.store, target)
        deleted = [self.store.delete(target.rt, o["metadata"].get("namespace"),
                                     o["metadata"]["name"], dry_run=dry_run) for o in objs]
        return json_response(self._list_body(target.rt, deleted, None, None))

    # -- scale subresource --
    async def _scale(self, request: web.Request, target: Target) -> web.StreamResponse:
        parent = self._fetch(target)
        scale = _scale_of(parent)
        if request.method == "GET":
            return json_response(scale)
        body = await read_body(request)
        if request.method == "PUT":
            new_scale = body
        elif request.method == "PATCH":
            try:
                new_scale = _apply_patch(request.content_type, scale, body)
            except PatchError as err:
                raise ApiError(422, str(err)) from err
        else:
            return _method_not_allowed()
        try:
            replicas = int((new_scale.get("spec") or {}).get("replicas", 0))
        except (TypeError, ValueError, AttributeError):
            raise bad_request("spec.replicas must be an integer") from None
        sent_rv = (new_scale.get("metadata") or {}).get("resourceVersion")
        parent["spec"]["replicas"] = replicas
        if sent_rv:
            parent["metadata"]["resourceVersion"] = sent_rv
        updated = self.store.update(target.rt, target.namespace, target.name or "", parent,
                                    dry_run=_dry_run(request))
        return json_response(_scale_of(updated))

    # -- watch --
    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        rt = target.rt
        try:
            keep = make_filter(request.query.get("labelSelector"),
                               request.query.get("fieldSelector"), rt.name)
        except SelectorError as err:
            raise bad_request(str(err)) from err
        name = target.name
        initial = request.query.get("sendInitialEvents", "").lower() == "true"
        since = request.query.get("resourceVersion")
        watcher, backlog = self.store.watch(rt.group, rt.name, target.namespace,
                                            None if initial else since)
        table = wants_table(request)
        include = request.query.get("includeObject", "Metadata")
        bookmarks = _flag(request, "allowWatchBookmarks")
        timeout = float(request.query.get("timeoutSeconds") or DEFAULT_WATCH_SECONDS)
        resp = web.StreamResponse()
        resp.content_type = JSON
        resp.enable_chunked_encoding()
        headers_sent = False

        def encode(event: WatchEvent) -> bytes:
            nonlocal headers_sent
            obj = copy.deepcopy(event.obj)
            obj["apiVersion"] = rt.group_version
            if table:
                obj = tables.to_table(rt.kind, [obj], resource_version=str(event.rv),
                                      include_object=include, headers=not headers_sent)
                headers_sent = True
            return orjson.dumps({"type": event.type, "object": obj}) + b"\n"

        def bookmark(annotations: dict[str, str] | None = None) -> bytes:
            meta: Obj = {"resourceVersion": self.store.resource_version}
            if annotations:
                meta["annotations"] = annotations
            return orjson.dumps({"type": "BOOKMARK", "object": {
                "kind": rt.kind, "apiVersion": rt.group_version, "metadata": meta}}) + b"\n"

        matching: set[tuple[str, str]] = set()

        def visible(event: WatchEvent) -> WatchEvent | None:
            """Apply the selectors; objects leaving/entering them appear DELETED/ADDED."""
            meta = event.obj["metadata"]
            if name is not None and meta.get("name") != name:
                return None
            key = (meta.get("namespace", ""), meta["name"])
            was, now = key in matching, keep(event.obj) and event.type != "DELETED"
            if now:
                matching.add(key)
            else:
                matching.discard(key)
            if event.type == "DELETED":
                return event if was else None
            if now and not was and event.type == "MODIFIED":
                return WatchEvent(event.rv, event.group, event.resource, "ADDED", event.obj)
            if was and not now:
                return WatchEvent(event.rv, event.group, event.resource, "DELETED", event.obj)
            return event if now else None

        try:
            await resp.prepare(request)
            for event in backlog:
                shown = visible(event)
                if shown is not None:
                    await resp.write(encode(shown))
            if initial:
                await resp.write(bookmark({"k8s.io/initial-events-end": "true"}))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    item = await asyncio.wait_for(watcher.queue.get(),
                                                  min(left, BOOKMARK_EVERY))
                except TimeoutError:
                    if bookmarks:
                        await resp.write(bookmark())
                    continue
                if item is None:
                    break
                shown = visible(item)
                if shown is not None:
                    await resp.write(encode(shown))
        except (ConnectionResetError, asyncio.CancelledError):
            self.store.unwatch(watcher)
            raise
        finally:
            self.store.unwatch(watcher)
        with contextlib.suppress(ConnectionResetError):
            await resp.write_eof()
        return resp


def _apply_patch(ctype: str, live: Obj, body: Any) -> Any:
    if ctype == "application/merge-patch+json":
        return merge_patch(live, body)
    if ctype == "application/strategic-merge-patch+json":
        return strategic_merge(live, body)
    if ctype == "application/json-patch+json":
        return json_patch(live, body)
    if ctype == "application/apply-patch+yaml":
        return apply_config(live, body)
    raise ApiError(415, 'the body of the request was in an unknown format - accepted media '
                   'types include: application/json-patch+json, application/merge-patch+json, '
                   'application/apply-patch+yaml, application/strategic-merge-patch+json',
                   reason="UnsupportedMediaType")


def _scale_of(parent: Obj) -> Obj:
    meta = parent["metadata"]
    spec, st = parent.get("spec") or {}, parent.get("status") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                              "creationTimestamp") if k in meta},
            "spec": {"replicas": int(spec.get("replicas", 0))},
            "status": {"replicas": int(st.get("replicas", 0)),
                       "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))}}


def fake_service_account_token(namespace: str, name: str) -> str:
    """A JWT-shaped, unsigned token: realistic enough to be recognised, valid nowhere."""
    def part(data: Obj) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")

    sub = f"system:serviceaccount:{namespace}:{name}"
    return ".".join([part({"alg": "RS256", "kid": "kgate-sandbox"}),
                     part({"iss": "https://kubernetes.default.svc.cluster.local", "sub": sub}),
                     base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")])


def expiry_rfc3339(seconds: int) -> str:
    """Now plus ``seconds``, as a Kubernetes timestamp."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _user_info(user: UserInfo) -> Obj:
    info: Obj = {"username": user.username, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    return info


def _table_response(table: Obj, code: int = 200) -> web.Response:
    return json_response(table, code, content_type=f"{JSON};as=Table;v=v1;g=meta.k8s.io")


def _not_found_path() -> web.Response:
    return json_response(status(404, "the server could not find the requested resource",
                                details={}), 404)


def _method_not_allowed() -> web.Response:
    return json_response(status(405, "the server does not allow this method on the requested "
                                "resource", details={}), 405)


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


__all__ = ["build_app", "parse_target", "qualified"]
