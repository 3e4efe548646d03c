"""Kubernetes ``Status`` objects: how both kgate servers say no.

kube-apiserver answers every failure with a ``meta.k8s.io/v1 Status``; kubectl and the client
libraries parse it to print ``Error from server (Forbidden): …``. Anything kgate refuses must look
the same so the agent's tooling reports it properly.
"""

from __future__ import annotations

from typing import Any

import orjson

REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "AlreadyExists",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def status(code: int, message: str, *, reason: str | None = None,
           details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build a failure ``Status`` dict for HTTP ``code``."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, "Unknown"),
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def status_bytes(code: int, message: str, *, reason: str | None = None,
                 details: dict[str, Any] | None = None) -> bytes:
    """``status`` serialised as JSON bytes."""
    return orjson.dumps(status(code, message, reason=reason, details=details))


