"""Held requests as a source for the human inbox (``kgate pending / approve / deny``).

The inbox CLI and its approval identity rules belong to ``kgate.grants.inbox``; this module only
adapts the hold store to the ``InboxSource`` interface defined there, and registers it (importing
this module is what puts ``h-…`` ids in ``kgate pending``).
"""

from __future__ import annotations

from pathlib import Path

from kgate.grants.inbox import InboxItem, InboxSource, register_source
from kgate.holds.model import Hold, rfc3339
from kgate.holds.store import HoldNotFound, HoldStore


def hold_item(hold: Hold) -> InboxItem:
    r = hold.request
    return InboxItem(
        id=hold.id, kind="hold", created_at=rfc3339(hold.created_at) or "",
        requester=r.session, summary=r.summary,
        details={"session": r.session, "kubectl_command": r.kubectl_command,
                 "method": r.method, "path": r.path, "verb": r.verb,
                 "resource": r.resource_label, "namespace": r.namespace, "name": r.name,
                 "rule": r.rule, "body": r.body, "diff": r.diff,
                 "waits_until": rfc3339(hold.timeout_at),
                 "expires_at": rfc3339(hold.replay_until)})


class HoldSource:
    """``InboxSource`` for held requests (``h-…``)."""

    kind = "hold"
    prefix = "h-"

    def __init__(self, store: HoldStore | None = None, home: Path | None = None) -> None:
        self.store = store or HoldStore(home)

    def pending(self) -> list[InboxItem]:
        return [hold_item(h) for h in self.store.pending()]

    def requester_of(self, item_id: str) -> str:
        """Who asked: the agent session the call came from (``s-…``)."""
        hold = self.store.get(item_id)
        if hold is None:
            raise HoldNotFound(f"no held request {item_id}", hint="see 'kgate pending'")
        return hold.request.session

    def approve(self, item_id: str, approver: str, comment: str | None) -> str:
        hold = self.store.approve(item_id, approver, comment)
        return (f"approved {hold.id} ({hold.request.summary}); the waiting call goes through, "
                "or, if it already timed out, the same request is admitted once")

    def deny(self, item_id: str, approver: str, reason: str | None) -> str:
        hold = self.store.deny(item_id, approver, reason)
        return f"denied {hold.id} ({hold.request.summary})"


def _source(home: Path | None) -> InboxSource:
    return HoldSource(home=home)


register_source(_source)
