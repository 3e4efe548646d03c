"""The policy settings grants obey: who approves, how long, what is granted without a human.

``GrantRules`` is a small frozen view of the policy's ``approvers``, ``allowSelfApproval`` and
``grants:`` keys, validated when built. The policy loader (``kgate/policy``) owns the YAML file;
``from_mapping`` takes the plain dict it produces, and ``load_rules`` reads just these keys from
the file DESIGN.md's search order finds, so grants work before and after the two are wired.
"""

from __future__ import annotations

import fnmatch
import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgate.config import kgate_home
from kgate.errors import ConfigError
from kgate.grants.durations import DurationError, parse_duration
from kgate.grants.model import KNOWN_VERBS

DEFAULT_MAX_TTL = 8 * 3600.0
DEFAULT_PENDING_TIMEOUT = 3600.0


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
        """Read ``approvers``, ``allowSelfApproval`` and ``grants:`` from a policy dict."""
        def bad(key: str, why: str) -> ConfigError:
            return ConfigError(f"{source}: {key}: {why}",
                               hint="see the Policy section of docs (kgate policy check)")

        def duration(value: Any, key: str, default: float) -> float:
            if value is None:
                return default
            try:
                return parse_duration(str(value), what=key)
            except DurationError as err:
                raise bad(key, err.message) from None

        def strings(value: Any, key: str) -> tuple[str, ...]:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad(key, "must be a list of strings")
            return tuple(value)

        def verbs(value: Any, key: str) -> tuple[str, ...]:
            out = strings(value, key)
            unknown = [v for v in out if v not in KNOWN_VERBS]
            if unknown:
                raise bad(key, f"unknown verb(s) {', '.join(unknown)}")
            return out

        kwargs: dict[str, Any] = {"source": source}
        if policy.get("approvers") is not None:
            kwargs["approvers"] = strings(policy["approvers"], "approvers")
        self_ok = policy.get("allowSelfApproval", False)
        if not isinstance(self_ok, bool):
            raise bad("allowSelfApproval", "must be true or false")
        kwargs["allow_self_approval"] = self_ok
        grants = policy.get("grants") or {}
        if not isinstance(grants, Mapping):
            raise bad("grants", "must be a mapping")
        max_ttl = duration(grants.get("maxTTL"), "grants.maxTTL", DEFAULT_MAX_TTL)
        kwargs["max_ttl"] = max_ttl
        kwargs["pending_timeout"] = duration(grants.get("pendingTimeout"),
                                             "grants.pendingTimeout", DEFAULT_PENDING_TIMEOUT)
        if grants.get("defaultVerbs") is not None:
            kwargs["default_verbs"] = verbs(grants["defaultVerbs"], "grants.defaultVerbs")
        entries = []
        for i, raw in enumerate(grants.get("autoApprove") or []):
            key = f"grants.autoApprove[{i}]"
            if not isinstance(raw, Mapping):
                raise bad(key, "must be a mapping with namespaces, verbs, maxTTL")
            entries.append(AutoApprove(
                namespaces=strings(raw.get("namespaces"), f"{key}.namespaces"),
                verbs=verbs(raw.get("verbs", ["get", "list", "watch"]), f"{key}.verbs"),
                max_ttl=min(max_ttl, duration(raw.get("maxTTL"), f"{key}.maxTTL", max_ttl))))
        kwargs["auto_approve"] = tuple(entries)
        return cls(**kwargs)


def policy_path(explicit: Path | None = None) -> Path | None:
    """DESIGN.md's search order: ``--policy``, ``$KGATE_POLICY``, ``$KGATE_HOME/policy.yaml``."""
    if explicit is not None:
        return explicit
    env = os.environ.get("KGATE_POLICY")
    if env:
        return Path(env).expanduser()
    default = kgate_home() / "policy.yaml"
    return default if default.exists() else None


def load_rules(explicit: Path | None = None) -> GrantRules:
    """The grant rules of the policy file in force (built-in defaults if there is none)."""
    path = policy_path(explicit)
    if path is None:
        return GrantRules()
    import yaml  # here, not at import: every kgate command imports this module

    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError(f"cannot read policy {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"policy {path} is not valid YAML: {err}".splitlines()[0]) from err
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise ConfigError(f"policy {path} must be a mapping")
    return GrantRules.from_mapping(doc, source=str(path))
