"""The one place the stage order is written down.

authenticate → parse → grant scope → policy → request-body checks → forward → mask → audit.

Each stage is a small object behind a Protocol (``kgate.proxy.stages``); stages say no by raising
``Refusal``; the pipeline turns refusals and upstream failures into ``Status`` replies and always
hands the finished ``Exchange`` to the audit stage. The pipeline itself does no socket I/O: it
talks to the agent through ``Downstream`` and to the API server through ``Upstream``.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import orjson

from kgate.proxy import headers as hdr
from kgate.proxy.attributes import NonCanonicalPath, RequestAttributes, parse_request
from kgate.proxy.engine import Downstream, Upstream, UpstreamRequest, UpstreamResponse
from kgate.proxy.errors import (
    BodyRefused,
    MaskingFailed,
    Refusal,
    UpstreamError,
    bad_request,
    denied,
    unauthorized,
)
from kgate.proxy.session import Exchange, Session
from kgate.proxy.stages.audit import AuditSink, NoAudit
from kgate.proxy.stages.body import inspect_body
from kgate.proxy.stages.masking import (
    RequestBodyCheck,
    ResponseMasker,
    StreamMasker,
    passes_unmasked,
)
from kgate.proxy.stages.policy import BuiltinGuardrails, Policy
from kgate.proxy.stages.priming import needs_priming, secrets_referenced_by
from kgate.proxy.stages.scope import GrantScope, Ungranted

log = logging.getLogger("kgate.proxy")

MAX_REQUEST_BODY = 16 * 1024 * 1024
MAX_MASKED_BODY = 512 * 1024 * 1024
_JSON_TYPES = ("application/json",)
_STATUS_HEADERS: hdr.Headers = (("Content-Type", "application/json"),)


@dataclass
class Pipeline:
    """The stages of one proxy run, applied in order to every exchange."""

    session: Session
    upstream: Upstream
    masker: ResponseMasker
    body_check: RequestBodyCheck
    scope: GrantScope = field(default_factory=Ungranted)
    policy: Policy = field(default_factory=BuiltinGuardrails)
    audit: AuditSink = field(default_factory=NoAudit)

    async def handle(self, down: Downstream) -> None:
        """Run one exchange to its end; never raises for expected failures."""
        exchange = Exchange(session_id=self.session.id, method=down.method,
                            raw_path=down.raw_path,
                            kubectl_command=hdr.get(down.headers, "kubectl-command"),
                            kubectl_session=hdr.get(down.headers, "kubectl-session"))
        try:
            await self._run(down, exchange)
        except Refusal as refusal:
            exchange.decision = "deny" if refusal.code < 500 else "error"
            exchange.rule = exchange.rule or refusal.rule
            exchange.message = refusal.message
            exchange.status = refusal.code
            await down.respond(refusal.code, _STATUS_HEADERS, refusal.body())
        except ConnectionError:
            exchange.message = "the client went away"
        except Exception as err:  # a bug must still fail closed, and politely
            await self._internal_error(down, exchange, err)
        finally:
            exchange.ended = time.time()
            self.audit.record(exchange)

    async def _internal_error(self, down: Downstream, exchange: Exchange,
                              err: Exception) -> None:
        """A bug in kgate: the agent gets a 500 Status (or a cut stream), never partial data.

        Only the exception's type and where it happened are logged: its message could quote
        a value from the request or the reply.
        """
        frame = traceback.extract_tb(err.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        log.error("kgate: internal error (%s at %s) on %s %s", type(err).__name__, where,
                  down.method, down.raw_path)
        exchange.decision, exchange.status = "error", 500
        exchange.message = f"internal error ({type(err).__name__} at {where})"
        if down.started:
            down.abort()
            return
        refusal = Refusal(500, "internal error in kgate; the request was not completed and "
                               "nothing from it was passed on (details are in kgate's log)")
        with contextlib.suppress(ConnectionError):
            await down.respond(500, _STATUS_HEADERS, refusal.body())

    async def _run(self, down: Downstream, exchange: Exchange) -> None:
        if not self.session.authenticate(hdr.get(down.headers, "authorization")):
            raise unauthorized()
        try:
            attrs = parse_request(down.method, down.raw_path, down.raw_query)
        except NonCanonicalPath as err:
            raise bad_request(str(err)) from None
        exchange.attributes = attrs
        if not attrs.is_resource and not passes_unmasked(attrs):
            raise Refusal(403, f"the non-resource path {attrs.path} is not forwarded: kgate "
                               "cannot tell what it returns, so it cannot mask it",
                          rule="mask-nonresource")
        self.scope.check(attrs)
        decision = self.policy.decide(attrs, down.headers)
        exchange.decision, exchange.rule = decision.action, decision.rule
        if decision.action != "allow":
            raise denied(decision.rule or "policy", decision.message or "denied by policy")
        path_qs = down.raw_path + (f"?{down.raw_query}" if down.raw_query else "")
        if needs_priming(attrs):
            await self._prime(attrs)
        if down.is_upgrade:
            await self._relay(down, exchange, attrs, path_qs)
            return
        body = await down.read_body(MAX_REQUEST_BODY) if _may_have_body(down) else None
        if body:
            self._check_body(down, exchange, attrs, body)
        request = UpstreamRequest(
            method=down.method, path_qs=path_qs, body=body,
            headers=hdr.request_headers(down.headers, rewrite_accept=attrs.is_resource))
        response = await self._forward(request)
        try:
            exchange.upstream_status = response.status
            await self._deliver(down, exchange, attrs, response)
        finally:
            response.close()

    def _check_body(self, down: Downstream, exchange: Exchange, attrs: RequestAttributes,
                    body: bytes) -> None:
        """What the body is (kind/name, even for protobuf), refused if it writes masks back."""
        content_type = hdr.get(down.headers, "content-type") or ""
        exchange.bytes_in = len(body)
        facts = exchange.body = inspect_body(content_type,
                                             hdr.get(down.headers, "content-encoding"), body)
        try:
            self.body_check.check(attrs, content_type, body)
        except BodyRefused as err:
            # Shaped like kube's Invalid Status: kubectl prints "<field>: <message>" per cause
            # (and kubectl edit lists them in the file it reopens).
            message = f"kgate: {err}"
            causes = [{"reason": "FieldValueInvalid", "field": field,
                       "message": "kgate: a masked placeholder cannot be written back"}
                      for field in err.fields[:20]]
            raise Refusal(422, message, rule="no-placeholder-writes", details={
                "name": facts.name,
                "group": attrs.api_group,
                "kind": facts.kind or attrs.resource,
                "causes": causes or [{"reason": "FieldValueInvalid", "message": message}],
            }) from None
        exchange.body_log = self.body_check.log_copy(attrs, content_type, body)

    async def _prime(self, attrs: RequestAttributes) -> None:
        """Teach the masker the pod's Secrets before its logs or exec output are relayed.

        Fetched with the broker's credential. A Secret that does not exist is skipped (the pod
        cannot print it either); any other failure refuses the request, since kgate would not
        recognise those values in the output.
        """
        base = f"/api/v1/namespaces/{quote(attrs.namespace, safe='')}"
        pod = await self._fetch_json(f"{base}/pods/{quote(attrs.name, safe='')}")
        if pod is None:
            return  # no such pod: the request itself will answer 404
        try:
            self.masker.learn(pod)
            for name in secrets_referenced_by(orjson.loads(pod)):
                secret = await self._fetch_json(f"{base}/secrets/{quote(name, safe='')}")
                if secret is not None:
                    self.masker.learn(secret)
        except (MaskingFailed, orjson.JSONDecodeError) as err:
            raise Refusal(502, f"could not prepare masking of the pod's output ({err}); "
                               "refusing to relay output kgate cannot mask") from None

    async def _fetch_json(self, path: str) -> bytes | None:
        """GET ``path`` upstream as JSON; ``None`` for 404; ``Refusal`` for anything else."""
        response = await self._forward(UpstreamRequest(
            method="GET", path_qs=path, headers=(("Accept", "application/json"),)))
        try:
            if response.status == 404:
                return None
            body = await _read(response, self.upstream.name)
        finally:
            response.close()
        if response.status != 200:
            raise Refusal(502, f"could not read {path} from {self.upstream.name} "
                               f"(HTTP {response.status}) to prepare masking of the pod's "
                               "output; refusing to relay output kgate cannot mask")
        return body

    async def _forward(self, request: UpstreamRequest) -> UpstreamResponse:
        try:
            return await self.upstream.send(request)
        except UpstreamError as err:
            raise err.refusal() from None

    async def _deliver(self, down: Downstream, exchange: Exchange, attrs: RequestAttributes,
                       response: UpstreamResponse) -> None:
        """Mask and send the reply: whole JSON bodies at once, watches and logs as they come."""
        out_headers = hdr.response_headers(response.headers)
        ctype = hdr.media_type(hdr.get(response.headers, "content-type"))
        exchange.status = response.status
        if response.status == 401:
            # Upstream rejected the broker's credential, not the agent's session token: say so
            # instead of letting kubectl tell the agent to log in.
            raise Refusal(502, f"the API server {self.upstream.name} rejected kgate's upstream "
                               "credential (401 Unauthorized); the user must refresh the "
                               "credentials of that kubeconfig context")
        if not attrs.is_resource:
            await self._stream(down, exchange, response, out_headers, None)
            return
        if attrs.is_watch and ctype in _JSON_TYPES:
            await self._stream(down, exchange, response, out_headers,
                               self.masker.watch_stream(attrs))
            return
        if attrs.is_pod_logs and ctype == "text/plain":
            await self._stream(down, exchange, response, out_headers,
                               self.masker.text_stream(attrs))
            return
        if ctype and ctype not in _JSON_TYPES:
            # Never read (a protobuf watch would never end) and never pass on: refuse now.
            raise Refusal(502, f"the API server {self.upstream.name} answered {ctype} for "
                               f"{attrs.group_resource}, which kgate cannot mask; refusing to "
                               "pass it on")
        body = await _read(response, self.upstream.name)
        if body and not ctype:
            raise Refusal(502, f"the API server {self.upstream.name} sent an untyped body for "
                               f"{attrs.group_resource}; refusing to pass it on")
        if body:
            try:
                body, masked = self.masker.mask_body(attrs, body)
            except MaskingFailed as err:
                raise Refusal(502, f"could not mask the reply for {attrs.group_resource} "
                                   f"({err}); refusing to pass it on") from None
            exchange.masked += masked
        exchange.bytes_out = len(body)
        await down.respond(response.status, out_headers, body)

    async def _stream(self, down: Downstream, exchange: Exchange, response: UpstreamResponse,
                      out_headers: hdr.Headers, masker: StreamMasker | None) -> None:
        """Send the head at once (a quiet watch must still start), then chunks as they come."""
        await down.start(response.status, out_headers)
        try:
            async for chunk in response.chunks():
                if masker is not None:
                    chunk = masker.feed(chunk)
                if chunk:
                    exchange.bytes_out += len(chunk)
                    await down.write(chunk)
            tail = masker.flush() if masker is not None else b""
        except (MaskingFailed, UpstreamError) as err:
            # The head is out: the only honest thing left is to cut the connection, so the
            # client sees a broken stream rather than unmasked or silently truncated data.
            exchange.message = f"stream cut: {err}"
            exchange.decision = "error"
            down.abort()
            return
        finally:
            if masker is not None:
                exchange.masked += masker.masked
        if tail:
            exchange.bytes_out += len(tail)
            await down.write(tail)
        await down.finish()

    async def _relay(self, down: Downstream, exchange: Exchange, attrs: RequestAttributes,
                     path_qs: str) -> None:
        frames = self.masker.exec_frames(attrs) if attrs.is_exec_like else None
        upgrade = (hdr.get(down.headers, "upgrade") or "").lower()
        if frames is not None and upgrade not in ("websocket", "spdy/3.1"):
            raise Refusal(403, f"{attrs.subresource} over {upgrade or 'an unknown protocol'} "
                               "cannot be masked; use WebSocket or SPDY/3.1",
                          rule="mask-exec-output")
        request = UpstreamRequest(method=down.method, path_qs=path_qs,
                                  headers=hdr.upgrade_request_headers(down.headers))
        try:
            stream = await self.upstream.open_upgrade(request)
        except UpstreamError as err:
            raise err.refusal() from None
        exchange.upstream_status = exchange.status = stream.status
        if stream.status != 101:
            stream.close()
            await down.respond(stream.status, hdr.response_headers(stream.headers), stream.body)
            return
        exchange.upgraded = True
        try:
            exchange.bytes_out = await down.relay(stream, frames)
        finally:
            if frames is not None:
                exchange.masked += frames.masked


def _may_have_body(down: Downstream) -> bool:
    return down.method in ("POST", "PUT", "PATCH", "DELETE")


async def _read(response: UpstreamResponse, name: str) -> bytes:
    try:
        return await response.read(MAX_MASKED_BODY)
    except UpstreamError as err:
        raise err.refusal() from None
