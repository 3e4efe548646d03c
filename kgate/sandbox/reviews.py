"""Review-style virtual resources: ``auth whoami``, ``auth can-i`` and ServiceAccount tokens.

These are POST-only resources that store nothing: the server answers the posted review with a
``status`` filled in. The sandbox enforces no RBAC, so every access review is allowed, and a
TokenRequest returns a JWT-shaped token that is valid nowhere (recognisable by secret scanners,
useless to an attacker).
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from kgate.sandbox.auth import UserInfo
from kgate.sandbox.paths import Target
from kgate.sandbox.store import Store, bad_request, not_found
from kgate.sandbox.wire import json_response, method_not_allowed, read_body

Obj = dict[str, Any]
USER_KEY = web.RequestKey("user", UserInfo)
ACCESS_REVIEWS = frozenset({"selfsubjectaccessreviews", "subjectaccessreviews",
                            "localsubjectaccessreviews"})
Answer = Callable[[Obj, UserInfo], Obj]
DEFAULT_AUDIENCE = "https://kubernetes.default.svc.cluster.local"
DEFAULT_TOKEN_SECONDS = 3600


def review_handler(request: web.Request, store: Store, target: Target
                   ) -> Awaitable[web.StreamResponse] | None:
    """The handler for a review-style resource, or ``None`` if ``target`` is not one."""
    rt = target.rt
    if rt.group == "authentication.k8s.io" and rt.name == "selfsubjectreviews":
        return _review(request, target, lambda body, user: {"userInfo": user_info(user)})
    if rt.group == "authorization.k8s.io" and rt.name in ACCESS_REVIEWS:
        return _review(request, target, lambda body, user: {
            "allowed": True, "reason": "the kgate sandbox allows every authenticated user"})
    if rt.group == "authorization.k8s.io" and rt.name == "selfsubjectrulesreviews":
        return _review(request, target, lambda body, user: {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False})
    if rt.group == "" and rt.name == "serviceaccounts" and target.subresource == "token":
        return _token_request(request, store, target)
    return None


async def _token_request(request: web.Request, store: Store, target: Target
                         ) -> web.StreamResponse:
    """TokenRequest: a JWT-shaped token for the ServiceAccount (valid nowhere)."""
    if request.method != "POST":
        return method_not_allowed()
    name, ns = target.name or "", target.namespace
    if store.get("", "serviceaccounts", ns, name) is None:
        raise not_found(target.rt, name)
    body = await read_body(request)
    spec = dict(body.get("spec") or {}) if isinstance(body, dict) else {}
    # kubectl sends null for what it leaves to the server (Go's JSON of nil slices/pointers).
    spec["audiences"] = spec.get("audiences") or [DEFAULT_AUDIENCE]
    spec["expirationSeconds"] = spec.get("expirationSeconds") or DEFAULT_TOKEN_SECONDS
    spec.setdefault("boundObjectRef", None)
    return json_response({
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": None},
        "spec": spec,
        "status": {"token": fake_service_account_token(ns or "", name),
                   "expirationTimestamp": expiry_rfc3339(int(spec["expirationSeconds"]))},
    }, 201)


async def _review(request: web.Request, target: Target, answer: Answer) -> web.StreamResponse:
    if request.method != "POST":
        return method_not_allowed()
    body = await read_body(request)
    if not isinstance(body, dict):
        raise bad_request("the body of the request was in an unknown format")
    user = request[USER_KEY]
    out: Obj = {"kind": target.rt.kind, "apiVersion": target.rt.group_version,
                "metadata": {"creationTimestamp": None}}
    if "spec" in body:
        out["spec"] = body["spec"]
    out["status"] = answer(body, user)
    return json_response(out, 201)


def fake_service_account_token(namespace: str, name: str) -> str:
    """A JWT-shaped, unsigned token: realistic enough to be recognised, valid nowhere."""
    def part(data: Obj) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")

    sub = f"system:serviceaccount:{namespace}:{name}"
    return ".".join([part({"alg": "RS256", "kid": "kgate-sandbox"}),
                     part({"iss": DEFAULT_AUDIENCE, "sub": sub}),
                     base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")])


def expiry_rfc3339(seconds: int) -> str:
    """Now plus ``seconds``, as a Kubernetes timestamp."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def user_info(user: UserInfo) -> Obj:
    """The ``UserInfo`` of a review status, as kube-apiserver writes it."""
    info: Obj = {"username": user.username, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    return info
