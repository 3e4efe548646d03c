"""What a request asks for: the pure parser from method + path + query to request attributes.

This mirrors kube-apiserver's ``RequestInfoFactory`` so that grant scope and policy decide on
exactly what the API server will act on (a policy that says "no list of secrets" must see a
``list`` where the API server sees one). Two deliberate differences: exec, attach and portforward
are always verb ``create`` whatever the HTTP method (kube says ``get`` for a WebSocket GET), and
paths kube-apiserver would normalise (``..``, ``.``, ``//``, encoded ``/`` or ``.``, backslashes,
NUL) are refused instead, so a path cannot mean one thing to the policy and another upstream.
No I/O here: this runs on every request and is tested exhaustively.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

_API_PREFIXES = ("api", "apis")
_GROUPLESS_PREFIXES = ("api",)
_SPECIAL_VERBS = ("proxy", "watch")
_SPECIAL_VERBS_NO_SUBRESOURCES = ("proxy",)
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update",
                 "PATCH": "patch", "DELETE": "delete"}
_STREAM_SUBRESOURCES = ("exec", "attach", "portforward")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
# Encoded forms that would decode to a separator, a dot segment or a NUL.
_FORBIDDEN_ENCODINGS = ("%2f", "%2e", "%5c", "%00")
#: ``parse_request`` results kept for reuse: an agent repeats the same few calls (a poll, a
#: list), and parsing costs more than the rest of the request's bookkeeping. Keys are the raw
#: method, path and query; longer ones are parsed every time, so the cache stays small.
_CACHE_SIZE = 1024
_CACHE_KEY_MAX = 512
_cache: dict[tuple[str, str, str], RequestAttributes] = {}


class NonCanonicalPath(ValueError):
    """The request path is one kgate refuses to interpret (answered 400)."""


@dataclass(frozen=True)
class RequestAttributes:
    """The Kubernetes view of one request, as policy and grant scope see it."""

    method: str
    path: str
    is_resource: bool
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    dry_run: bool = False
    field_manager: str = ""
    label_selector: str = ""
    field_selector: str = ""

    @property
    def group_resource(self) -> str:
        """``resource.group`` (``pods`` for core), with ``/subresource`` if any."""
        base = f"{self.resource}.{self.api_group}" if self.api_group else self.resource
        return f"{base}/{self.subresource}" if self.subresource else base

    @property
    def is_watch(self) -> bool:
        return self.verb == "watch"

    @property
    def is_exec_like(self) -> bool:
        """exec, attach or portforward on pods: an upgraded, bidirectional stream."""
        return (self.is_resource and self.api_group == "" and self.resource == "pods"
                and self.subresource in _STREAM_SUBRESOURCES)

    @property
    def is_pod_logs(self) -> bool:
        return (self.is_resource and self.api_group == "" and self.resource == "pods"
                and self.subresource == "log")


def check_canonical(raw_path: str) -> None:
    """Raise ``NonCanonicalPath`` unless ``raw_path`` (undecoded, no query) is canonical."""
    if not raw_path.startswith("/"):
        raise NonCanonicalPath("the path must start with '/'")
    lowered = raw_path.lower()
    if "\\" in raw_path or "\x00" in raw_path:
        raise NonCanonicalPath("the path contains a backslash or NUL")
    if "#" in raw_path:  # kgate would judge `secrets#x`, the API server would serve `secrets`
        raise NonCanonicalPath("the path contains a fragment ('#')")
    for bad in _FORBIDDEN_ENCODINGS:
        if bad in lowered:
            raise NonCanonicalPath(f"the path contains the encoded character {bad.upper()}")
    if "//" in raw_path:
        raise NonCanonicalPath("the path contains an empty segment ('//')")
    for segment in raw_path.split("/"):
        if segment in (".", ".."):
            raise NonCanonicalPath(f"the path contains a '{segment}' segment")


def _first(query: Mapping[str, Sequence[str]], key: str) -> str:
    values = query.get(key)
    return values[0] if values else ""


def _parse_watch(query: Mapping[str, Sequence[str]]) -> bool | None:
    """``watch`` as kube's ParameterCodec reads it; ``None`` if it is not a boolean."""
    value = _first(query, "watch")
    if "watch" not in query or value in _FALSE:
        return False
    if value in _TRUE:
        return True
    return None


def _name_from_field_selector(selector: str) -> str:
    """The name a ``metadata.name=x`` field selector pins, as kube uses it for the verb's name."""
    found = ""
    for term in selector.split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if op and key.strip() == "metadata.name" and not key.endswith("!"):
            found = value.strip()
    if found in ("", ".", "..") or "/" in found or "%" in found:
        return ""
    return found


def parse_request(method: str, raw_path: str, raw_query: str = "") -> RequestAttributes:
    """Derive the request attributes from the HTTP method, the raw path and the raw query.

    Pure, and the result is immutable: a repeated request gets the attributes parsed the first
    time (refused paths are not kept; they are refused again each time)."""
    key = (method, raw_path, raw_query)
    attrs = _cache.get(key)
    if attrs is None:
        attrs = _parse(method, raw_path, raw_query)
        if len(raw_path) + len(raw_query) <= _CACHE_KEY_MAX:
            if len(_cache) >= _CACHE_SIZE:
                _cache.pop(next(iter(_cache), key), None)  # the oldest entry
            _cache[key] = attrs
    return attrs


def _parse(method: str, raw_path: str, raw_query: str) -> RequestAttributes:
    check_canonical(raw_path)
    method = method.upper()
    parts = [unquote(p) if "%" in p else p for p in raw_path.strip("/").split("/") if p]
    path = "/" + "/".join(parts)
    query = parse_qs(raw_query, keep_blank_values=True) if raw_query else {}
    field_selector = _first(query, "fieldSelector")
    dry_run = bool(query.get("dryRun"))
    field_manager = _first(query, "fieldManager")
    label_selector = _first(query, "labelSelector")
    if len(parts) < 3 or parts[0] not in _API_PREFIXES:
        return RequestAttributes(
            method=method, path=path, is_resource=False, verb=method.lower(), dry_run=dry_run,
            field_manager=field_manager, label_selector=label_selector,
            field_selector=field_selector)
    prefix, rest = parts[0], parts[1:]
    group = ""
    if prefix not in _GROUPLESS_PREFIXES:
        if len(rest) < 3:
            return RequestAttributes(
                method=method, path=path, is_resource=False, verb=method.lower(),
                dry_run=dry_run, field_manager=field_manager, label_selector=label_selector,
                field_selector=field_selector)
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]

    if rest[0] in _SPECIAL_VERBS:
        if len(rest) < 2:
            raise NonCanonicalPath(f"unable to determine kind and namespace from {path}")
        verb, rest = rest[0], rest[1:]
    else:
        verb = _METHOD_VERBS.get(method, "")

    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]

    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 and verb not in _SPECIAL_VERBS_NO_SUBRESOURCES else ""

    if not name and verb == "get":
        watch = _parse_watch(query)
        verb = "watch" if watch else "list"
        if watch is not None:
            name = _name_from_field_selector(field_selector)
    if not name and verb == "delete":
        verb = "deletecollection"
    if group == "" and resource == "pods" and subresource in _STREAM_SUBRESOURCES:
        verb = "create"

    return RequestAttributes(
        method=method, path=path, is_resource=True, verb=verb, api_prefix=prefix,
        api_group=group, api_version=version, namespace=namespace, resource=resource,
        subresource=subresource, name=name, dry_run=dry_run, field_manager=field_manager,
        label_selector=label_selector, field_selector=field_selector)
