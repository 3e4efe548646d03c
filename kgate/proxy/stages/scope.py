"""Grant scope: is this request inside what the human granted, and is the grant still on?

``GrantScoped`` holds the session's grant (refreshed by the runner's grant watch) and refuses with
a 403 ``Status`` naming the grant and what it covers; an ended grant refuses everything at once
with its end time. The coverage rules themselves are pure (``kgate.grants.coverage``).
Discovery, ``/version`` and OpenAPI (non-resource paths the pipeline lets through) always pass.
``Ungranted`` is ``kgate proxy --no-grant``: every request in scope, said loudly at start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from kgate.grants.coverage import Call, outside
from kgate.grants.model import Grant, GrantState, rfc3339
from kgate.proxy.attributes import RequestAttributes
from kgate.proxy.errors import Refusal


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
    """No grant (``--no-grant``): every request is in scope and there is no default namespace."""

    @property
    def grant_id(self) -> str | None:
        return None

    @property
    def default_namespace(self) -> str | None:
        return None

    def check(self, attrs: RequestAttributes) -> None:
        return None


def ended_message(grant: Grant, state: GrantState) -> str:
    """What the agent reads when its grant is over (DESIGN.md "Decisions the agent sees")."""
    again = "ask for a new one with 'kgate request'"
    if state is GrantState.REVOKED:
        return (f"kgate: grant {grant.id} was revoked at {rfc3339(grant.ended_at)}"
                + (f" ({grant.end_reason})" if grant.end_reason else "") + f"; {again}")
    if state is GrantState.EXPIRED:
        at = grant.expires_at if grant.approved_at is not None else grant.pending_until
        return f"kgate: grant {grant.id} expired at {rfc3339(at)}; {again}"
    if state is GrantState.DENIED:
        return f"kgate: grant {grant.id} was denied; {again}"
    return f"kgate: grant {grant.id} is still pending; a human must run 'kgate approve {grant.id}'"


class GrantScoped:
    """Enforces one grant. ``update`` takes the store's latest view; the clock decides expiry."""

    def __init__(self, grant: Grant, clock: Callable[[], float] = time.time) -> None:
        self._grant = grant
        self._clock = clock
        self._failed: str | None = None

    @property
    def grant(self) -> Grant:
        return self._grant

    @property
    def grant_id(self) -> str | None:
        return self._grant.id

    @property
    def default_namespace(self) -> str | None:
        return self._grant.namespaces[0]

    def update(self, grant: Grant) -> None:
        self._grant = grant

    def fail(self, why: str) -> None:
        """The grant can no longer be checked (store unreadable): refuse from now on."""
        self._failed = why

    def is_over(self) -> bool:
        return self._failed is not None or \
            self._grant.state_at(self._clock()) is not GrantState.ACTIVE

    def check(self, attrs: RequestAttributes) -> None:
        if not attrs.is_resource:
            return
        if self._failed is not None:
            raise Refusal(403, f"grant {self._grant.id} cannot be checked ({self._failed}); "
                               "refusing until it can", rule="grant")
        grant = self._grant
        state = grant.state_at(self._clock())
        if state is not GrantState.ACTIVE:
            raise Refusal(403, ended_message(grant, state), rule="grant")
        why = outside(grant.namespaces, grant.verbs, grant.resources, grant.cluster_resources,
                      Call(verb=attrs.verb, group=attrs.api_group, resource=attrs.resource,
                           subresource=attrs.subresource, namespace=attrs.namespace))
        if why:
            raise Refusal(403, f"{why}: grant {grant.id} covers {grant.describe_scope()}; ask "
                               "for more with 'kgate request'", rule="grant-scope")
