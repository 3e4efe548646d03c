"""Building grants for tests without going through the CLI."""

from __future__ import annotations

import time

from kgate.grants.model import Grant, GrantState, new_grant_id


def pending_grant(namespaces: tuple[str, ...] = ("payments",), *, ttl: float = 1800,
                  requester: str = "local:agent-user", pending_for: float = 3600,
                  verbs: tuple[str, ...] = ("get", "list", "watch"),
                  resources: tuple[str, ...] = (), now: float | None = None) -> Grant:
    now = time.time() if now is None else now
    return Grant(id=new_grant_id(), state=GrantState.PENDING, requester=requester,
                 namespaces=namespaces, verbs=verbs, resources=resources, ttl=ttl,
                 created_at=now, pending_until=now + pending_for, reason="tests")
