"""Request failures as the exact ``Status`` kube-apiserver would send.

kubectl prints the server's message verbatim (``pods "x" not found``, ``… already exists``,
``The ConfigMap "Bad" is invalid: …``), so every refusal the sandbox makes is built here, in
the same words and with the same ``details``, and raised as an ``ApiError`` that the app turns
into the response.
"""

from __future__ import annotations

from typing import Any

from kgate.sandbox.registry import ResourceType
from kgate.status import status


class ApiError(Exception):
    """A request failure with the ``Status`` body kube-apiserver would answer."""

    def __init__(self, code: int, message: str, *, reason: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.body = status(code, message, reason=reason, details=details)


def qualified(rt: ResourceType) -> str:
    """``pods`` or ``deployments.apps``: how kube names a resource in messages."""
    return f"{rt.name}.{rt.group}" if rt.group else rt.name


def details(rt: ResourceType, name: str) -> dict[str, Any]:
    """The ``details`` kube attaches to a Status about one named object."""
    out: dict[str, Any] = {"name": name}
    if rt.group:
        out["group"] = rt.group
    out["kind"] = rt.name
    return out


def not_found(rt: ResourceType, name: str) -> ApiError:
    """404 ``<resource> "<name>" not found``."""
    return ApiError(404, f'{qualified(rt)} "{name}" not found', details=details(rt, name))


def namespace_not_found(namespace: str) -> ApiError:
    """404 for a write into a namespace that does not exist."""
    return ApiError(404, f'namespaces "{namespace}" not found',
                    details={"name": namespace, "kind": "namespaces"})


def invalid(rt: ResourceType, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 ``The Kind "name" is invalid: field: message`` (causes: field, reason, message)."""
    parts = [f"{f}: {m}" for f, _, m in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    body = {"name": name, "group": rt.group, "kind": rt.kind,
            "causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]}
    if not rt.group:
        del body["group"]
    return ApiError(422, f'{rt.kind} "{name}" is invalid: {joined}', details=body)


def bad_request(message: str) -> ApiError:
    """400 BadRequest."""
    return ApiError(400, message)
