"""The policy stage: allow, deny or send one request to review, judged on its facts.

The facts come from ``kgate.proxy.facts.gather_facts`` (the proxy and ``kgate policy eval`` both
use it, so both judge a request the same way). ``PolicyStage.decide`` is awaited (evaluation
itself is pure and fast; a future policy may consult something slower) and answers with a
``Decision``; a ``deny`` becomes a ``Refusal`` through ``refusal_for``, the one way a decision
says no. ``review`` is handled by the pipeline with the hold gate (``kgate.holds``).
"""

from __future__ import annotations

from typing import Protocol

from kgate.policy import Decision, Facts, Policy, evaluate, guardrails_only
from kgate.proxy.errors import Refusal

__all__ = ["Decision", "PolicyDecider", "PolicyStage", "refusal_for"]


class PolicyDecider(Protocol):
    @property
    def policy(self) -> Policy: ...

    async def decide(self, facts: Facts) -> Decision: ...


class PolicyStage:
    """Decides with a loaded ``Policy`` (default: the built-in guardrails and no rules)."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or guardrails_only()

    async def decide(self, facts: Facts) -> Decision:
        return evaluate(self.policy, facts)


def refusal_for(decision: Decision) -> Refusal:
    """The Status the agent gets for a ``deny``."""
    return Refusal(decision.code, decision.refusal_message, rule=decision.rule,
                   details=decision.details)
