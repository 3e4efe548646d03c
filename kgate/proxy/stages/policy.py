"""Policy: allow or deny one request, naming the rule that decided.

The full policy engine (YAML rules, holds) is a later issue. What exists now is the built-in
guardrail that cannot wait: ``no-impersonation``. Any ``Impersonate-*`` header would let the agent
borrow the broker's credential to act as someone else, so it is refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from kgate.proxy.attributes import RequestAttributes


@dataclass(frozen=True)
class Decision:
    action: Literal["allow", "deny"]
    rule: str | None = None
    message: str | None = None


ALLOW = Decision("allow")


class Policy(Protocol):
    def decide(self, attrs: RequestAttributes,
               headers: Sequence[tuple[str, str]]) -> Decision: ...


class BuiltinGuardrails:
    """The built-in rules implemented so far; everything else is allowed."""

    def decide(self, attrs: RequestAttributes,
               headers: Sequence[tuple[str, str]]) -> Decision:
        impersonating = sorted({name for name, _ in headers
                                if name.lower().startswith("impersonate-")})
        if impersonating:
            return Decision("deny", "no-impersonation",
                            f"agents may not impersonate other users (header "
                            f"{', '.join(impersonating)}); drop --as/--as-group")
        return ALLOW
