"""The policy as a frozen, validated object: rules, who approves, how long holds wait.

Built only by ``loader`` (from YAML, with file:line errors) or ``guardrails_only`` (tests and
tools that want the built-in guardrails and nothing else). Everything here is immutable so one
policy can be shared by every exchange of a proxy run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kgate.grants.rules import local_user
from kgate.policy.globs import GlobSet
from kgate.proxy.masking.settings import MaskingSettings

Action = Literal["allow", "deny", "review"]
ACTIONS: tuple[str, ...] = ("allow", "deny", "review")

DEFAULT_HOLD_TIMEOUT = 60.0
DEFAULT_REPLAY_WINDOW = 600.0
DEFAULT_MAX_AUTH_AGE = 300.0


@dataclass(frozen=True)
class Match:
    """What a rule matches; a key left out matches anything."""

    verbs: GlobSet | None = None
    api_groups: GlobSet | None = None
    resources: GlobSet | None = None
    subresources: GlobSet | None = None
    namespaces: GlobSet | None = None
    names: GlobSet | None = None
    dry_run: bool | None = None
    #: A subset of the request object (``body:``): every key given must be present and match.
    body: Any = None

    def describe(self) -> dict[str, Any]:
        """The match as plain data (``policy show``)."""
        out: dict[str, Any] = {}
        for key, value in (("verbs", self.verbs), ("apiGroups", self.api_groups),
                           ("resources", self.resources), ("subresources", self.subresources),
                           ("namespaces", self.namespaces), ("names", self.names)):
            if value is not None:
                out[key] = list(value.patterns)
        if self.dry_run is not None:
            out["dryRun"] = self.dry_run
        if self.body is not None:
            out["body"] = self.body
        return out


@dataclass(frozen=True)
class Rule:
    name: str
    match: Match
    action: Action
    message: str = ""
    line: int = 0


@dataclass(frozen=True)
class Policy:
    """One loaded policy. ``source`` is the file it came from, or ``"built-in"``."""

    rules: tuple[Rule, ...] = ()
    #: Who may approve grants and held calls; left out, the local OS user (``local:<user>``),
    #: as when there is no policy file at all. Never empty: ``approvers: []`` is an error.
    approvers: tuple[str, ...] = field(default_factory=lambda: (local_user(),))
    allow_self_approval: bool = False
    hold_timeout: float = DEFAULT_HOLD_TIMEOUT
    hold_replay_window: float = DEFAULT_REPLAY_WINDOW
    holds_notify: tuple[str, ...] = ()
    approvals_max_auth_age: float = DEFAULT_MAX_AUTH_AGE
    #: The ``grants:`` block as written, checked by the loader with ``kgate.grants.rules.check``
    #: (``GrantRules.from_policy`` reads it).
    grants: Mapping[str, Any] = field(default_factory=dict)
    masking: MaskingSettings = field(default_factory=MaskingSettings)
    builtins_disabled: frozenset[str] = frozenset()
    source: str = "built-in"
    #: The whole document as plain data (for components that read their own blocks).
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: sha256 of the policy text, for the session log.
    digest: str = ""


def guardrails_only(source: str = "guardrails-only") -> Policy:
    """The built-in guardrails and no rules: everything else is allowed (tests, tools)."""
    return Policy(source=source)
