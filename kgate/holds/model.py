"""A held request: one call the policy sent to review, waiting for (or past) a human's decision.

States: ``pending`` (nobody decided yet; stays pending after the waiting call timed out, so a
late approval can still admit it) → ``approved`` or ``denied``; ``approved`` → ``consumed`` when
the request goes through (the waiting call, or the one replay after a timeout). Every transition
is one conditional UPDATE in SQLite, so two approvers, or two replays, cannot both win.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

PENDING, APPROVED, DENIED, CONSUMED = "pending", "approved", "denied", "consumed"


def new_hold_id() -> str:
    return "h-" + secrets.token_hex(4)


def rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class HoldRequest:
    """What was held: enough to show a human and to recognise the same request again."""

    session: str
    method: str
    path: str                    # path and query, as sent upstream
    body_sha256: str             # "" without a body
    verb: str
    api_group: str
    resource: str
    subresource: str
    namespace: str
    name: str
    rule: str
    message: str
    kubectl_command: str | None = None
    #: The masked body (the session log's copy), JSON-serialisable; never raw values.
    body: Any = None
    #: Unified diff (masked) of what the request would change, or why there is none.
    diff: str | None = None

    @property
    def resource_label(self) -> str:
        base = f"{self.resource}.{self.api_group}" if self.api_group else self.resource
        return f"{base}/{self.subresource}" if self.subresource else base

    @property
    def summary(self) -> str:
        target = f"{self.namespace}/{self.name}" if self.namespace else self.name
        what = f"{self.verb} {self.resource_label}" + (f" {target}" if target else "")
        return f"{what} (rule {self.rule})"


@dataclass(frozen=True)
class Hold:
    id: str
    request: HoldRequest
    state: str
    created_at: float
    timeout_at: float            # when the waiting call gives up
    replay_until: float          # last moment an approval may admit the request
    decided_at: float | None = None
    decided_by: str | None = None
    reason: str | None = None
    consumed_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The hold as ``holds.notify`` and ``--json`` listings show it (masked, no secrets)."""
        out = {"id": self.id, "kind": "hold", "state": self.state,
               "created_at": rfc3339(self.created_at), "summary": self.request.summary}
        out.update(asdict(self.request))
        out["decided_at"] = rfc3339(self.decided_at)
        out["decided_by"] = self.decided_by
        out["reason"] = self.reason
        return out
