"""A call the policy sent to review: replay a late approval, or hold it until a human decides.

Runs inside the pipeline between policy and forwarding. It returns when the call may go on and
raises ``Refusal`` otherwise (denied: the approver's reason; timed out: the hold id and what to
do). The hold shows the human the masked body and, for update/patch/scale/delete, a masked diff
from a server-side dry run sent with the broker's credential (``kgate.holds.diff``); computing it
is the only I/O here, and it goes through the pipeline's ``Upstream``.
"""

from __future__ import annotations

import json
from typing import Any

from kgate.holds.diff import dry_run_diff, wants_diff
from kgate.holds.gate import HoldGate
from kgate.holds.model import HoldRequest
from kgate.policy import Decision
from kgate.proxy.attributes import RequestAttributes
from kgate.proxy.engine import Upstream, UpstreamRequest
from kgate.proxy.errors import MaskingFailed, Refusal, UpstreamError
from kgate.proxy.session import Exchange
from kgate.proxy.stages.masking import ResponseMasker

MAX_DRY_RUN_BODY = 64 * 1024 * 1024


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


async def settle_review(gate: HoldGate | None, upstream: Upstream, masker: ResponseMasker,
                        exchange: Exchange, attrs: RequestAttributes, decision: Decision,
                        path_qs: str, content_type: str, body: bytes | None) -> None:
    """Admit the call (return) or refuse it (``Refusal``)."""
    if gate is None:  # no hold store: nobody could ever approve, so fail closed now
        raise Refusal(403, f"rule {decision.rule} sends this call to review, but this kgate "
                           "proxy runs without a hold store", rule=decision.rule)
    sha = exchange.body.sha256 if exchange.body is not None else ""
    replayed = await gate.replay(exchange.session_id, exchange.method, path_qs, sha)
    if replayed is not None:
        exchange.hold_id, exchange.approved_by = replayed.id, replayed.decided_by
        exchange.decision = "approved"
        return
    diff = None
    if wants_diff(attrs.verb) and attrs.name:
        diff = await _diff(upstream, masker, attrs, path_qs, content_type, body)
    request = HoldRequest(
        session=exchange.session_id, method=exchange.method, path=path_qs, body_sha256=sha,
        verb=attrs.verb, api_group=attrs.api_group, resource=attrs.resource,
        subresource=attrs.subresource, namespace=attrs.namespace, name=attrs.name,
        rule=decision.rule or "", message=decision.message or "",
        kubectl_command=exchange.kubectl_command, body=_plain(exchange.body_log), diff=diff)
    outcome = await gate.hold(request)
    hold = outcome.hold
    exchange.hold_id = hold.id
    if outcome.result == "approved":
        exchange.approved_by = hold.decided_by
        exchange.decision = "approved"
        return
    if outcome.result == "denied":
        why = f": {hold.reason}" if hold.reason else ""
        raise Refusal(403, f"held for review as {hold.id} (rule {decision.rule}) and denied by "
                           f"{hold.decided_by}{why}", rule=decision.rule)
    raise Refusal(403, f"held for review as {hold.id} (rule {decision.rule}: "
                       f"{decision.message}); no decision within {_duration(gate.timeout)}. "
                       f"A human must run 'kgate approve {hold.id}'; the same request will then "
                       f"go through once within {_duration(gate.replay_window)}",
                  rule=decision.rule)


def _plain(value: Any) -> Any:
    """The log copy as plain JSON data (it is already masked)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str))


async def _diff(upstream: Upstream, masker: ResponseMasker, attrs: RequestAttributes,
                path_qs: str, content_type: str, body: bytes | None) -> str:
    async def fetch(method: str, target: str, payload: bytes | None) -> tuple[int, bytes]:
        headers = [("Accept", "application/json")]
        if payload is not None and content_type:
            headers.append(("Content-Type", content_type))
        try:
            response = await upstream.send(UpstreamRequest(method=method, path_qs=target,
                                                           headers=tuple(headers), body=payload))
        except UpstreamError as err:
            return err.code, b""
        try:
            return response.status, await response.read(MAX_DRY_RUN_BODY)
        except UpstreamError as err:
            return err.code, b""
        finally:
            response.close()

    def mask(raw: bytes) -> bytes:
        return masker.mask_body(attrs, raw)[0]

    try:
        return await dry_run_diff(fetch, mask, attrs.method, path_qs, attrs.verb, body)
    except (MaskingFailed, ValueError) as err:
        # Never an unmasked diff: say why there is none instead.
        return f"(no diff: {type(err).__name__} while masking or reading the dry run)\n"
