"""The human's single inbox: everything waiting for a decision, whatever its kind.

Grants (``g-…``) are one source; held requests (``h-…``) are another, registered by the policy
package. ``kgate pending``, ``approve`` and ``deny`` go through ``sources`` and dispatch on the id's
prefix, and run ``approval.authorize`` for every kind, so no kind gets a weaker rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kgate.grants.durations import format_duration
from kgate.grants.errors import AlreadyDecided, NotFound
from kgate.grants.model import rfc3339
from kgate.grants.store import SqliteGrantStore

__all__ = ["AlreadyDecided", "GrantSource", "InboxItem", "InboxSource", "NotFound",
           "register_source", "source_for", "sources"]


@dataclass(frozen=True)
class InboxItem:
    id: str
    kind: str                     # "grant" | "hold"
    created_at: str               # RFC 3339 UTC
    requester: str
    summary: str
    details: dict[str, Any]       # kind-specific fields merged into `pending --json` output

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "created_at": self.created_at,
                "requester": self.requester, "summary": self.summary, **self.details}


class InboxSource(Protocol):
    kind: str
    prefix: str                   # "grant","g-" / "hold","h-"

    def pending(self) -> list[InboxItem]: ...

    def requester_of(self, item_id: str) -> str:
        """Raises ``NotFound``."""
        ...

    def approve(self, item_id: str, approver: str, comment: str | None) -> str:
        """A one-line result; raises ``AlreadyDecided``/``NotFound``."""
        ...

    def deny(self, item_id: str, approver: str, reason: str | None) -> str: ...


class GrantSource:
    """Pending grants as inbox items."""

    kind = "grant"
    prefix = "g-"

    def __init__(self, home: Path | None) -> None:
        self._home = home

    def _store(self) -> SqliteGrantStore:
        return SqliteGrantStore(self._home)

    def pending(self) -> list[InboxItem]:
        store = self._store()
        try:
            grants = [g for g in store.grants() if g.state == "pending"]
        finally:
            store.close()
        return [InboxItem(id=g.id, kind=self.kind, created_at=rfc3339(g.created_at) or "",
                          requester=g.requester,
                          summary=f"{g.describe_scope()} for {format_duration(g.ttl)}"
                                  + (f": {g.reason}" if g.reason else ""),
                          details={})
                for g in grants]

    def requester_of(self, item_id: str) -> str:
        store = self._store()
        try:
            return store.get(item_id).requester
        finally:
            store.close()

    def approve(self, item_id: str, approver: str, comment: str | None) -> str:
        store = self._store()
        try:
            grant = store.approve(item_id, approver, comment)
        finally:
            store.close()
        return (f"{grant.id} approved: {grant.describe_scope()} until "
                f"{rfc3339(grant.expires_at)} ({format_duration(grant.ttl)})")

    def deny(self, item_id: str, approver: str, reason: str | None) -> str:
        store = self._store()
        try:
            grant = store.deny(item_id, approver, reason)
        finally:
            store.close()
        return f"{grant.id} denied" + (f": {reason}" if reason else "")


SourceFactory = Callable[[Path | None], InboxSource]
_FACTORIES: list[SourceFactory] = [GrantSource]


def register_source(factory: SourceFactory) -> None:
    """Add a kind to the inbox (the policy package registers held requests, ``h-…``)."""
    if factory not in _FACTORIES:
        _FACTORIES.append(factory)


def sources(home: Path | None) -> list[InboxSource]:
    """Every kind of item the inbox shows, grants first."""
    return [factory(home) for factory in _FACTORIES]


def source_for(item_id: str, home: Path | None) -> InboxSource:
    for source in sources(home):
        if item_id.startswith(source.prefix):
            return source
    prefixes = ", ".join(f"{s.prefix}… ({s.kind})" for s in sources(home))
    raise NotFound(f"{item_id!r} is not an id kgate knows", hint=f"ids look like {prefixes}; "
                   "'kgate pending' lists what waits for you")
