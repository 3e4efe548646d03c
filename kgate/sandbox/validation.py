"""What kube-apiserver checks about a request object before it touches storage.

A write body is shape-checked (it is an object, its ``kind`` matches the URL, ``metadata`` is
an object, its namespace agrees with the URL's), its name is checked against the DNS rules of
its kind, and a Secret's ``stringData`` is folded into base64 ``data``. Each refusal is the
``ApiError`` the real server sends, so kubectl prints the same message. Pure functions of the
request and its resource type: the store decides existence and conflicts.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from typing import Any

from kgate.sandbox.apierrors import bad_request, invalid
from kgate.sandbox.registry import ResourceType

Obj = dict[str, Any]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
# Kinds whose names must be DNS labels rather than subdomains.
_LABEL_NAMED = frozenset({("", "namespaces"), ("", "services")})


def validate_name(rt: ResourceType, obj: Obj) -> None:
    """Refuse a missing name, or one that is not a DNS label/subdomain as the kind requires."""
    meta = obj["metadata"]
    name = meta.get("name") or ""
    if not name:
        raise invalid(rt, "", [("metadata.name", "FieldValueRequired",
                                "Required value: name or generateName is required")])
    label = (rt.group, rt.name) in _LABEL_NAMED
    pattern, msg, limit = ((_LABEL, _LABEL_MSG, 63) if label
                           else (_SUBDOMAIN, _SUBDOMAIN_MSG, 253))
    if not pattern.match(name):
        raise invalid(rt, name, [("metadata.name", "FieldValueInvalid",
                                  f'Invalid value: "{name}": {msg}')])
    if len(name) > limit:
        raise invalid(rt, name, [("metadata.name", "FieldValueInvalid",
                                  f'Invalid value: "{name}": must be no more than '
                                  f"{limit} characters")])


def prepare(rt: ResourceType, namespace: str | None, obj: Obj) -> Obj:
    """A checked private copy of a request object, with apiVersion/kind and namespace fixed."""
    if not isinstance(obj, dict):
        raise bad_request("the body of the request was in an unknown format")
    obj = copy.deepcopy(obj)
    kind = obj.get("kind")
    if kind and kind != rt.kind:
        raise bad_request(f'{kind} in version "{rt.version}" cannot be handled as a '
                          f"{rt.kind}: the kind does not match the URL")
    obj["apiVersion"], obj["kind"] = rt.group_version, rt.kind
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise bad_request(f"{rt.kind} in version \"{rt.version}\" cannot be handled as a "
                          f"{rt.kind}: metadata must be an object")
    if rt.namespaced:
        body_ns = meta.get("namespace")
        if body_ns and namespace and body_ns != namespace:
            raise bad_request("the namespace of the provided object does not match the "
                              "namespace sent on the request")
        meta["namespace"] = namespace or body_ns or "default"
    else:
        meta.pop("namespace", None)
    if rt.kind == "Secret":
        _fold_secret(obj)
    return obj


def _fold_secret(obj: Obj) -> None:
    """Merge ``stringData`` into base64 ``data`` and check ``data`` is base64, like upstream."""
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        raise bad_request('Secret in version "v1" cannot be handled as a Secret: data must be '
                          "an object")
    for key, value in data.items():
        if not isinstance(value, str):
            raise bad_request('Secret in version "v1" cannot be handled as a Secret: '
                              f"data[{key}] must be a base64 string")
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request('Secret in version "v1" cannot be handled as a Secret: illegal '
                              "base64 data at input byte 0") from None
    string_data = obj.pop("stringData", None) or {}
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    if data or "data" in obj:
        obj["data"] = data
    obj.setdefault("type", "Opaque")
