"""The policy settings grants obey: who approves, how long, what is granted without a human.

``GrantRules`` is a small frozen view of the policy's ``approvers``, ``allowSelfApproval`` and
``grants:`` keys. The policy loader (``kgate/policy/loader.py``) owns the file: it finds it,
parses it once and reports every problem as ``file:line``, calling ``check`` here for the
meaning of these keys, so ``kgate request``/``approve``, the proxy and ``kgate policy check``
accept and refuse the same files. ``load_rules`` is ``from_policy(load_policy(...))``.

Approvers: leaving the key out means the local OS user (``local:<user>``), with or without a
file; ``approvers: []`` is an error, since nobody could ever approve a grant or a held call.
"""

from __future__ import annotations

import fnmatch
import getpass
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgate.errors import ConfigError
from kgate.grants.durations import DurationError, parse_duration
from kgate.grants.model import KNOWN_VERBS

if TYPE_CHECKING:
    from kgate.policy.model import Policy

DEFAULT_MAX_TTL = 8 * 3600.0
DEFAULT_PENDING_TIMEOUT = 3600.0
#: The keys of one ``grants.autoApprove`` entry. The loader refuses any other: an ignored key
#: (``resources: [pods]``, say) would auto-approve more than its author meant.
AUTO_APPROVE_KEYS = ("namespaces", "verbs", "maxTTL")
NOBODY_APPROVES = ("is empty, so nobody could ever approve a grant or a held call; remove the "
                   "key for the default (the local user, local:<user>) or name the approvers")


def local_user() -> str:
    return f"local:{getpass.getuser()}"


@dataclass(frozen=True)
class AutoApprove:
    """Grants entirely inside this entry need no human."""

    namespaces: tuple[str, ...]
    verbs: tuple[str, ...]
    max_ttl: float

    def admits(self, namespaces: tuple[str, ...], verbs: tuple[str, ...], ttl: float) -> bool:
        return (all(any(fnmatch.fnmatchcase(ns, g) for g in self.namespaces) for ns in namespaces)
                and set(verbs) <= set(self.verbs) and ttl <= self.max_ttl)


@dataclass(frozen=True)
class GrantRules:
    approvers: tuple[str, ...] = field(default_factory=lambda: (local_user(),))
    allow_self_approval: bool = False
    max_ttl: float = DEFAULT_MAX_TTL
    pending_timeout: float = DEFAULT_PENDING_TIMEOUT
    default_verbs: tuple[str, ...] = ("get", "list", "watch")
    auto_approve: tuple[AutoApprove, ...] = ()
    source: str = "built-in defaults"

    def auto_approver(self, namespaces: tuple[str, ...], verbs: tuple[str, ...],
                      ttl: float) -> int | None:
        """Index of the first ``autoApprove`` entry that admits the grant, if any."""
        for i, entry in enumerate(self.auto_approve):
            if entry.admits(namespaces, verbs, ttl):
                return i
        return None

    @classmethod
    def from_mapping(cls, policy: Mapping[str, Any], source: str = "policy") -> GrantRules:
        """Read ``approvers``, ``allowSelfApproval`` and ``grants:`` from a policy dict.

        ``ConfigError`` naming ``source`` and the first key at fault; ``check`` lists them all.
        """
        rules, problems = _read(policy, source)
        if problems:
            key, why = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ConfigError(f"{source}: {key}: {why}{more}",
                              hint="run 'kgate policy check' to list every problem")
        assert rules is not None
        return rules

    @classmethod
    def from_policy(cls, policy: Policy) -> GrantRules:
        """The grant rules of a loaded policy (which the loader already checked with ``check``)."""
        return cls.from_mapping({"approvers": list(policy.approvers),
                                 "allowSelfApproval": policy.allow_self_approval,
                                 "grants": policy.grants}, source=policy.source)


def check(policy: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every problem of the grant keys of ``policy`` as (key path, why), for the policy loader."""
    return _read(policy, "policy")[1]


def _read(policy: Mapping[str, Any], source: str
          ) -> tuple[GrantRules | None, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []

    def bad(key: str, why: str) -> None:
        problems.append((key, why))

    def duration(value: Any, key: str, default: float) -> float:
        if value is None:
            return default
        if not isinstance(value, str):  # YAML's 3600 or 1.5 would silently mean seconds
            bad(key, f"{value!r} is not a duration (write e.g. 90s, 15m or 1h30m)")
            return default
        try:
            return parse_duration(value, what="")
        except DurationError as err:
            why = err.message.strip()
            bad(key, why + (" (write e.g. 90s, 15m or 1h30m)"
                            if why.endswith("not a duration") else ""))
            return default

    def strings(value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            bad(key, "must be a list of strings")
            return ()
        return tuple(value)

    def verbs(value: Any, key: str) -> tuple[str, ...]:
        out = strings(value, key)
        unknown = [v for v in out if v not in KNOWN_VERBS]
        if unknown:
            bad(key, f"unknown verb(s) {', '.join(unknown)} (known: {', '.join(KNOWN_VERBS)})")
        return out

    kwargs: dict[str, Any] = {"source": source}
    if "approvers" in policy:
        approvers = policy["approvers"]
        if approvers is None or approvers == []:
            bad("approvers", NOBODY_APPROVES)
        else:
            kwargs["approvers"] = strings(approvers, "approvers")
    self_ok = policy.get("allowSelfApproval", False)
    if not isinstance(self_ok, bool):
        bad("allowSelfApproval", "must be true or false")
    kwargs["allow_self_approval"] = self_ok is True
    grants = policy.get("grants")
    if grants is None:
        grants = {}
    if not isinstance(grants, Mapping):
        bad("grants", "must be a mapping")
        grants = {}
    max_ttl = duration(grants.get("maxTTL"), "grants.maxTTL", DEFAULT_MAX_TTL)
    kwargs["max_ttl"] = max_ttl
    kwargs["pending_timeout"] = duration(grants.get("pendingTimeout"), "grants.pendingTimeout",
                                         DEFAULT_PENDING_TIMEOUT)
    if grants.get("defaultVerbs") is not None:
        kwargs["default_verbs"] = verbs(grants["defaultVerbs"], "grants.defaultVerbs")
    auto = grants.get("autoApprove")
    if auto is not None and not isinstance(auto, list):
        bad("grants.autoApprove", "must be a list of {namespaces, verbs, maxTTL} entries")
        auto = []
    entries = []
    for i, raw in enumerate(auto or []):
        key = f"grants.autoApprove[{i}]"
        if not isinstance(raw, Mapping):
            bad(key, "must be a mapping with namespaces, verbs, maxTTL")
            continue
        entries.append(AutoApprove(
            namespaces=strings(raw.get("namespaces"), f"{key}.namespaces"),
            verbs=verbs(raw.get("verbs", ["get", "list", "watch"]), f"{key}.verbs"),
            max_ttl=min(max_ttl, duration(raw.get("maxTTL"), f"{key}.maxTTL", max_ttl))))
    kwargs["auto_approve"] = tuple(entries)
    if problems:
        return None, problems
    return GrantRules(**kwargs), []


def load_rules(explicit: Path | None = None) -> GrantRules:
    """The grant rules of the policy in force, read by the one policy loader.

    Same file, same search order, same validation and error format (``file:line: key: why``,
    exit 3) as the proxy and ``kgate policy check``: a file the proxy refuses, grants refuse.
    """
    from kgate.policy.loader import load_policy  # here: YAML and the policy package are heavy

    return GrantRules.from_policy(load_policy(explicit))
