"""The policy stage: gather one request's facts, then allow, deny or send it to review.

``gather_facts`` is the only place facts are assembled — the proxy calls it with the body it
read and inspected, ``kgate policy eval`` with a body from a file — so both judge a request the
same way. ``PolicyStage.decide`` is awaited (evaluation itself is pure and fast; a future policy
may consult something slower) and answers with a ``Decision``; a ``deny`` becomes a ``Refusal``
through ``refusal_for``, the one way a decision says no. ``review`` is handled by the pipeline with
the hold gate (``kgate.holds``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from kgate.policy import Decision, Facts, Policy, evaluate, guardrails_only
from kgate.policy.facts import dry_run_of, protobuf_document
from kgate.proxy.attributes import RequestAttributes
from kgate.proxy.errors import BodyRefused, Refusal
from kgate.proxy.stages.body import PROTOBUF, BodyFacts
from kgate.proxy.stages.masking import RequestBodyCheck, passes_unmasked

__all__ = ["Decision", "PolicyStage", "PolicyDecider", "gather_facts", "refusal_for"]


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


def gather_facts(attrs: RequestAttributes, headers: Sequence[tuple[str, str]],
                 body: bytes | None = None, inspected: BodyFacts | None = None,
                 content_type: str = "", body_check: RequestBodyCheck | None = None) -> Facts:
    """Everything policy may look at for one request (pure; ``body`` already inspected)."""
    document: Any = None
    complete = True
    placeholders: tuple[str, ...] = ()
    has_placeholders = False
    placeholder_message = ""
    if body and inspected is not None:
        if inspected.media_type == PROTOBUF:
            document, complete = protobuf_document(body)
        else:
            document = inspected.document
        if body_check is not None:
            try:
                body_check.check(attrs, content_type, body)
            except BodyRefused as err:
                has_placeholders, placeholders = True, tuple(err.fields)
                placeholder_message = str(err)
    return Facts(
        attrs=attrs, headers=tuple(headers), body=document, body_complete=complete,
        dry_run=dry_run_of(attrs, document), placeholder_fields=placeholders,
        has_placeholders=has_placeholders, placeholder_message=placeholder_message,
        describes_api=not attrs.is_resource and passes_unmasked(attrs),
        # mask-pipeline's no-secret-copy guard fills ``secret_copy`` here when it merges.
    )
