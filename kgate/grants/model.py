"""The grant: what a human allowed an agent to reach, and for how long.

Lifecycle: ``pending`` → ``active`` → ``expired`` | ``revoked``; ``pending`` → ``denied``;
``pending`` → ``expired`` when nobody decides before ``pending_until``. Expiry is not a stored
transition that some daemon must remember to make: ``state_at(now)`` derives it from the clock,
so every process (proxy, CLI, a second proxy) agrees on it without talking to each other.
Times are epoch seconds here and RFC 3339 UTC at the edges (JSON, tables).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from kgate.errors import ExitCode, KgateError

KNOWN_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete",
               "deletecollection")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


class GrantState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    DENIED = "denied"


class GrantInvalid(KgateError):
    """A grant request kgate refuses to store (bad namespace, verb, TTL, resource)."""

    exit_code = ExitCode.USAGE


def new_grant_id() -> str:
    return "g-" + secrets.token_hex(4)


def rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_namespace(ns: str) -> str:
    if not _DNS_LABEL.fullmatch(ns):
        raise GrantInvalid(f"namespace {ns!r} is not a DNS label",
                           hint="namespaces are lowercase letters, digits and '-', at most 63 "
                                "characters, starting and ending with a letter or digit")
    return ns


def check_verbs(verbs: tuple[str, ...]) -> tuple[str, ...]:
    for verb in verbs:
        if verb not in KNOWN_VERBS:
            raise GrantInvalid(f"unknown verb {verb!r}",
                               hint=f"verbs are {', '.join(KNOWN_VERBS)}")
    if not verbs:
        raise GrantInvalid("no verbs given", hint="e.g. --verb get,list,watch")
    return tuple(dict.fromkeys(verbs))


@dataclass(frozen=True)
class Grant:
    """One grant as stored. ``state`` is the stored decision; use ``state_at`` for the truth."""

    id: str
    state: GrantState
    requester: str
    namespaces: tuple[str, ...]
    verbs: tuple[str, ...]
    resources: tuple[str, ...]          # () = every namespaced resource in the namespaces
    ttl: float                           # seconds, counted from approval
    created_at: float
    pending_until: float
    reason: str | None = None
    context: str | None = None
    cluster_resources: tuple[str, ...] = ()   # entries of ``resources`` that are cluster-scoped
    approver: str | None = None          # who approved or denied
    approved_at: float | None = None
    expires_at: float | None = None
    comment: str | None = None           # the approver's comment or the denier's reason
    auto_approved: str | None = None     # which autoApprove entry granted it, if one did
    ended_by: str | None = None          # who revoked
    ended_at: float | None = None        # when denied or revoked
    end_reason: str | None = None

    def state_at(self, now: float) -> GrantState:
        if self.state is GrantState.ACTIVE and self.expires_at is not None \
                and now >= self.expires_at:
            return GrantState.EXPIRED
        if self.state is GrantState.PENDING and now >= self.pending_until:
            return GrantState.EXPIRED
        return self.state

    def at(self, now: float) -> Grant:
        """This grant with its state as of ``now``."""
        state = self.state_at(now)
        return self if state is self.state else replace(self, state=state)

    def ended_time(self) -> float | None:
        """When this grant stopped (or will stop) giving access."""
        if self.state in (GrantState.REVOKED, GrantState.DENIED):
            return self.ended_at
        if self.state is GrantState.PENDING:
            return self.pending_until
        return self.expires_at

    def describe_scope(self) -> str:
        what = ",".join(self.resources) if self.resources else "namespaced resources"
        return f"{','.join(self.verbs)} on {what} in namespace(s) {','.join(self.namespaces)}"

    def to_json(self) -> dict[str, Any]:
        """The ``grants --json`` shape of DESIGN.md."""
        return {"id": self.id, "state": str(self.state), "requester": self.requester,
                "approver": self.approver, "namespaces": list(self.namespaces),
                "verbs": list(self.verbs), "resources": list(self.resources),
                "reason": self.reason, "created_at": rfc3339(self.created_at),
                "approved_at": rfc3339(self.approved_at),
                "expires_at": rfc3339(self.expires_at)}
