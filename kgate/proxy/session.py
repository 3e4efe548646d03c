"""One proxy run: its session token, its id, and the record of each exchange.

The session token is the only credential the agent holds. It is random (256 bits), lives only in
the generated kubeconfig and in this process, is compared in constant time, and is never
forwarded: upstream sees the broker's own credential instead.
"""

from __future__ import annotations

import hmac
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:   # annotations only: ``kgate exec`` imports this module on its fast path
    from kgate.proxy.attributes import RequestAttributes
    from kgate.proxy.stages.body import BodyFacts

_exchange_ids = itertools.count(1)


def new_session_id() -> str:
    return "s-" + secrets.token_hex(6)


@dataclass(frozen=True, repr=False)
class Session:
    """Per-run state shared by every exchange: who may call (the grant is the scope stage's)."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    id: str = field(default_factory=new_session_id)

    def __repr__(self) -> str:  # never print the token
        return f"Session(id={self.id!r})"

    def authenticate(self, authorization: str | None) -> bool:
        """True iff ``authorization`` is ``Bearer <this session's token>`` (constant time)."""
        if not authorization:
            return False
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(presented.strip().encode(), self.token.encode())


@dataclass
class Exchange:
    """What happened to one request; the audit stage receives it when the exchange ends."""

    session_id: str
    method: str
    raw_path: str
    started: float = field(default_factory=time.time)
    attributes: RequestAttributes | None = None
    kubectl_command: str | None = None
    kubectl_session: str | None = None
    status: int = 0
    decision: str = "allow"
    rule: str | None = None
    message: str | None = None
    upstream_status: int | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    masked: int = 0
    body: BodyFacts | None = None
    body_log: Any = None
    upgraded: bool = False
    ended: float | None = None
    #: For the session log: a number linking stream-open/close records to the request record,
    #: the exec recording's file, the agent's Impersonate-User claim, the hold a reviewed call
    #: waited on (or was replayed from), and who approved it.
    id: int = field(default_factory=lambda: next(_exchange_ids))
    recording: str | None = None
    impersonate_user: str | None = None
    hold_id: str | None = None
    approved_by: str | None = None

    @property
    def latency(self) -> float | None:
        return None if self.ended is None else self.ended - self.started
