"""Grant scope: is this request inside what the human granted?

Grants are a later issue. Until then the proxy runs without one and ``Ungranted`` admits every
request: it is an honest "no grant configured", not a check that pretends to pass.
"""

from __future__ import annotations

from typing import Protocol

from kgate.proxy.attributes import RequestAttributes


class GrantScope(Protocol):
    """Raises ``kgate.proxy.errors.Refusal`` (403) for a request outside the grant."""

    @property
    def grant_id(self) -> str | None: ...

    @property
    def default_namespace(self) -> str | None:
        """The namespace the agent's kubeconfig should default to (the grant's first)."""
        ...

    def check(self, attrs: RequestAttributes) -> None: ...


class Ungranted:
    """No grant system yet: every request is in scope and there is no default namespace."""

    def __init__(self, grant_id: str | None = None) -> None:
        self._grant_id = grant_id

    @property
    def grant_id(self) -> str | None:
        return self._grant_id

    @property
    def default_namespace(self) -> str | None:
        return None

    def check(self, attrs: RequestAttributes) -> None:
        return None
