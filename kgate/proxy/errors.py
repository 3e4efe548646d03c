"""Refusals as Kubernetes ``Status`` replies whose message starts with ``kgate:``.

Every stage says no by raising a ``Refusal``; the pipeline turns it into the Status body kubectl
prints as ``Error from server (Forbidden): kgate: …``. Messages name what happened and what to do,
and never carry a secret (they are shown to the agent and written to the session log).
"""

from __future__ import annotations

from typing import Any

from kgate.status import status_bytes


class Refusal(Exception):
    """A request kgate answers itself, with HTTP ``code`` and a ``kgate:`` message."""

    def __init__(self, code: int, message: str, *, reason: str | None = None,
                 rule: str | None = None, details: dict[str, Any] | None = None) -> None:
        if not message.startswith("kgate:"):
            message = f"kgate: {message}"
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.rule = rule
        self.details = details

    def body(self) -> bytes:
        """The JSON ``Status`` body for this refusal."""
        return status_bytes(self.code, self.message, reason=self.reason, details=self.details)


def unauthorized() -> Refusal:
    return Refusal(401, "the session token is missing or not valid for this kgate proxy; use "
                        "the kubeconfig kgate generated for this session")


def bad_request(why: str) -> Refusal:
    return Refusal(400, f"refusing a non-canonical request path: {why}")


class MaskingFailed(Exception):
    """A response (or frame) that must be masked could not be; it must not reach the agent."""


class BodyRefused(Exception):
    """A request body a body check refuses (e.g. it writes a mask placeholder back): 422.

    ``fields`` names the offending fields (dotted paths) where the check could tell.
    """

    def __init__(self, fields: list[str], message: str) -> None:
        super().__init__(message)
        self.fields = fields


class UpstreamError(Exception):
    """The API server could not be used: ``code`` is 502 (bad reply), 503 (down) or 504."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def refusal(self) -> Refusal:
        return Refusal(self.code, self.message)
