"""Pure evaluation: one request's facts and a policy → allow, deny or review, and which rule.

Built-in guardrails come first (in registry order, minus those ``builtins.disable`` turned off),
then the user's rules; the first that matches decides. A request no rule matches is allowed (the
grant scope has already checked it is inside the grant). ``explain`` walks the same list and
reports every entry's outcome, which is what ``kgate policy eval`` prints: the proxy and the CLI
decide with this one function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from kgate.policy.facts import Facts
from kgate.policy.globs import GlobSet, glob_match
from kgate.policy.guardrails import GUARDRAILS, Guardrail, Hit
from kgate.policy.model import Action, Match, Policy, Rule


@dataclass(frozen=True)
class Decision:
    """The answer for one request. ``code``/``details`` shape the Status of a refusal."""

    action: Action
    rule: str | None = None
    message: str | None = None
    code: int = 403
    details: dict[str, Any] | None = None

    @property
    def refusal_message(self) -> str:
        """What the agent reads (without the ``kgate:`` prefix) when this is a deny."""
        return self.message or f"denied by rule {self.rule}"


ALLOW = Decision("allow")

Outcome = Literal["matched", "no match", "disabled", "not reached"]


@dataclass(frozen=True)
class Step:
    """One entry of ``explain``: a guardrail or rule and what it made of the request."""

    name: str
    kind: Literal["builtin", "rule"]
    outcome: Outcome
    action: str
    why: str = ""


def _guardrail_decision(g: Guardrail, hit: Hit) -> Decision:
    message = f"denied by rule {g.name}: {hit.message}" if g.as_rule else hit.message
    return Decision("deny", g.name, message, hit.code, hit.details)


def _rule_decision(rule: Rule, facts: Facts) -> Decision:
    if rule.action == "deny":
        why = rule.message or "denied by policy"
        return Decision("deny", rule.name, f"denied by rule {rule.name}: {why}")
    if rule.action == "review":
        return Decision("review", rule.name, rule.message or "a human must review this call")
    return Decision("allow", rule.name, rule.message or None)


def _globs(globs: GlobSet | None, value: str) -> bool:
    return globs is None or globs.matches(value)


def body_matches(pattern: Any, value: Any) -> bool:
    """``pattern`` is a subset of ``value``: mappings by key, lists by some element, strings as
    globs, other scalars by equality."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            k in value and body_matches(p, value[k]) for k, p in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(
            any(body_matches(p, v) for v in value) for p in pattern)
    if isinstance(pattern, str):
        return isinstance(value, str) and glob_match(pattern, value)
    if isinstance(pattern, bool) or isinstance(value, bool):
        return pattern is value
    return bool(pattern == value)


def rule_matches(match: Match, action: str, facts: Facts) -> bool:
    a = facts.attrs
    if not (_globs(match.verbs, a.verb) and _globs(match.api_groups, a.api_group)
            and _globs(match.resources, a.resource)
            and _globs(match.subresources, a.subresource)
            and _globs(match.namespaces, a.namespace) and _globs(match.names, a.name)):
        return False
    if match.dry_run is not None and match.dry_run != facts.dry_run:
        return False
    if match.body is None:
        return True
    if facts.body is not None and body_matches(match.body, facts.body):
        return True
    # A protobuf body kgate could read only in part: fail closed — deny and review rules
    # match (a human or a refusal), allow rules do not.
    return facts.body is not None and not facts.body_complete and action != "allow"


def evaluate(policy: Policy, facts: Facts) -> Decision:
    """The decision for ``facts`` under ``policy`` (first match wins)."""
    for g in GUARDRAILS:
        if g.name in policy.builtins_disabled:
            continue
        hit = g.check(facts)
        if hit is not None:
            return _guardrail_decision(g, hit)
    for rule in policy.rules:
        if rule_matches(rule.match, rule.action, facts):
            return _rule_decision(rule, facts)
    return ALLOW


def explain(policy: Policy, facts: Facts) -> tuple[Decision, list[Step]]:
    """The decision and every guardrail's and rule's outcome, in evaluation order."""
    decision: Decision | None = None
    steps: list[Step] = []
    for g in GUARDRAILS:
        if g.name in policy.builtins_disabled:
            steps.append(Step(g.name, "builtin", "disabled", "deny", g.summary))
            continue
        if decision is not None:
            steps.append(Step(g.name, "builtin", "not reached", "deny", g.summary))
            continue
        hit = g.check(facts)
        if hit is None:
            steps.append(Step(g.name, "builtin", "no match", "deny", g.summary))
        else:
            decision = _guardrail_decision(g, hit)
            steps.append(Step(g.name, "builtin", "matched", "deny", hit.message))
    for rule in policy.rules:
        if decision is not None:
            steps.append(Step(rule.name, "rule", "not reached", rule.action))
        elif rule_matches(rule.match, rule.action, facts):
            decision = _rule_decision(rule, facts)
            steps.append(Step(rule.name, "rule", "matched", rule.action, rule.message))
        else:
            steps.append(Step(rule.name, "rule", "no match", rule.action))
    return decision or ALLOW, steps
