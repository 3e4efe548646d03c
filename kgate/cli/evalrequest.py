"""The request ``kgate policy eval`` describes, built the way the proxy would see it.

The flags become an HTTP method and path that go through the proxy's own ``parse_request`` and a
body that goes through its own ``inspect_body``, so eval judges exactly what the proxy would.
Verbs no HTTP request spells (``escalate``, ``bind``, ``impersonate`` — kube checks them during
RBAC writes) are given as attributes directly.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

from kgate.errors import KgateError
from kgate.proxy.attributes import NonCanonicalPath, RequestAttributes, parse_request
from kgate.proxy.errors import Refusal
from kgate.proxy.stages.body import PROTOBUF, BodyFacts, inspect_body

_METHODS = {"get": "GET", "list": "GET", "watch": "GET", "create": "POST", "update": "PUT",
            "patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETE"}
_PATCH_TYPE = "application/merge-patch+json"


class BadRequest(KgateError):
    """The flags describe no request kgate could see."""


def _path(resource: str, subresource: str, api_group: str, namespace: str, name: str) -> str:
    prefix = "/apis/" + quote(api_group, safe="") + "/v1" if api_group else "/api/v1"
    if resource == "namespaces" and not api_group:
        base = f"{prefix}/namespaces"
    else:
        base = prefix + (f"/namespaces/{quote(namespace, safe='')}" if namespace else "")
        base += f"/{quote(resource, safe='')}"
    if name:
        base += f"/{quote(name, safe='')}"
    if subresource:
        base += f"/{quote(subresource, safe='')}"
    return base


def _content_type(body: bytes, verb: str) -> str:
    if body.startswith(b"k8s\x00"):
        return PROTOBUF
    stripped = body.lstrip()
    if stripped[:1] in (b"{", b"["):
        if stripped[:1] == b"[":
            return "application/json-patch+json"
        return _PATCH_TYPE if verb == "patch" else "application/json"
    return "application/apply-patch+yaml" if verb == "patch" else "application/yaml"


def build_request(*, verb: str, resource: str, path: str | None = None, subresource: str,
                  api_group: str,
                  namespace: str, name: str, body: bytes | None, content_type: str | None,
                  dry_run: bool, headers: list[str]
                  ) -> tuple[RequestAttributes, list[tuple[str, str]], BodyFacts | None, str]:
    """(attributes, headers, inspected body, content type) for the described request."""
    pairs: list[tuple[str, str]] = []
    for item in headers:
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise BadRequest(f"--header {item!r}: use NAME:VALUE")
        pairs.append((key.strip(), value.strip()))
    streaming = not api_group and resource == "pods" and subresource in (
        "exec", "attach", "portforward")
    if streaming and not any(k.lower() == "upgrade" for k, _ in pairs):
        pairs.append(("Upgrade", "websocket"))  # what kubectl 1.32 sends
    method = _METHODS.get(verb, "POST")
    if path is None and verb in ("get", "update", "patch", "delete") and not name:
        raise BadRequest(f"verb {verb} needs --name (without one, get is a list and delete "
                         "a deletecollection)")
    if path is None:
        if not resource:
            raise BadRequest("give --resource (or --path for a raw request path)")
        path = _path(resource, subresource, api_group,
                     namespace if resource != "namespaces" else "",
                     name if verb not in ("list", "watch", "deletecollection") else "")
    query = "&".join(q for q, on in (("watch=1", verb == "watch"), ("dryRun=All", dry_run)) if on)
    try:
        attrs = parse_request(method, path, query)
    except NonCanonicalPath as err:
        raise BadRequest(f"not a request kgate would accept: {err}") from None
    if attrs.is_resource and attrs.verb != verb:
        # escalate/bind/impersonate and friends: no HTTP request spells them.
        attrs = replace(attrs, verb=verb)
    ctype = ""
    inspected = None
    if body:
        ctype = content_type or _content_type(body, verb)
        pairs.append(("Content-Type", ctype))
        try:
            inspected = inspect_body(ctype, None, body)
        except Refusal as err:
            raise BadRequest(f"--body: {err.message.removeprefix('kgate: ')}") from None
    return attrs, pairs, inspected, ctype
