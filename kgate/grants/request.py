"""Turning what ``kgate request`` was given into a grant to store — or a refusal, before any
write. Every check that can fail runs before the grant exists: namespaces are DNS labels, verbs
are Kubernetes verbs, the TTL parses and is within ``grants.maxTTL``, and named resources are
served by the target cluster. An ``autoApprove`` entry that admits the grant makes it active at
once, recorded as approved by that entry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from kgate.grants.discovery import Catalog
from kgate.grants.durations import format_duration, parse_duration
from kgate.grants.model import (
    Grant,
    GrantInvalid,
    GrantState,
    check_namespace,
    check_verbs,
    new_grant_id,
)
from kgate.grants.rules import GrantRules


@dataclass(frozen=True)
class GrantRequest:
    namespaces: tuple[str, ...]
    ttl: str
    verbs: tuple[str, ...] = ()         # () = the policy's defaultVerbs
    resources: tuple[str, ...] = ()     # as typed; () = every namespaced resource
    reason: str | None = None
    context: str | None = None


def split_list(values: list[str] | None) -> tuple[str, ...]:
    """``--verb get,list --verb watch`` → ``("get", "list", "watch")``."""
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return tuple(dict.fromkeys(out))


def build_grant(req: GrantRequest, requester: str, rules: GrantRules,
                catalog: Callable[[], Catalog], now: float | None = None) -> Grant:
    """The grant to store, validated; ``catalog`` is only called when resources are named."""
    now = time.time() if now is None else now
    if not req.namespaces:
        raise GrantInvalid("no namespace given", hint="e.g. --namespace payments")
    namespaces = tuple(dict.fromkeys(check_namespace(ns) for ns in req.namespaces))
    verbs = check_verbs(req.verbs or rules.default_verbs)
    ttl = parse_duration(req.ttl, what="--ttl")
    if ttl > rules.max_ttl:
        raise GrantInvalid(f"--ttl {req.ttl} is longer than the policy's maximum "
                           f"{format_duration(rules.max_ttl)} (grants.maxTTL in {rules.source})",
                           hint=f"ask for at most {format_duration(rules.max_ttl)}")
    resources: list[str] = []
    cluster: list[str] = []
    if req.resources:
        served = catalog()
        for typed in req.resources:
            entry, is_cluster = served.resolve(typed)
            resources.append(entry)
            if is_cluster:
                cluster.append(entry)
    grant = Grant(id=new_grant_id(), state=GrantState.PENDING, requester=requester,
                  namespaces=namespaces, verbs=verbs, resources=tuple(dict.fromkeys(resources)),
                  cluster_resources=tuple(dict.fromkeys(cluster)), ttl=ttl, created_at=now,
                  pending_until=now + rules.pending_timeout, reason=req.reason,
                  context=req.context)
    auto = rules.auto_approver(namespaces, verbs, ttl)
    if auto is None or cluster:
        return grant
    who = f"policy:grants.autoApprove[{auto}]"
    return replace(grant, state=GrantState.ACTIVE, approver=who, approved_at=now,
                   expires_at=now + ttl, auto_approved=who,
                   comment=f"auto-approved by {who} in {rules.source}")
