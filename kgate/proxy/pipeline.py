"""The one place the stage order is written down.

authenticate → parse → read + inspect the body → grant scope → policy (allow | deny | review:
hold until a human decides; every named refusal, the masking guardrails included) → prime (pod
output) → forward (placeholders restored where they were read from) → mask → audit. Only exec,
attach and port-forward may upgrade; every other request takes the masked path whatever its
headers say.

Each stage is a small object behind a Protocol (``kgate.proxy.stages``). A stage says no by
raising ``Refusal``; policy answers with a ``Decision`` that ``stages.policy.refusal_for`` turns
into one, and every named refusal — the masking guardrails included — is decided by policy
evaluation over the request's facts, so ``kgate policy eval`` sees them all. The pipeline turns
refusals and upstream failures into ``Status`` replies and always hands the finished
``Exchange`` to the audit stage. It does no socket I/O itself: it talks to the agent through
``Downstream`` and to the API server through ``Upstream``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import orjson

from kgate.holds.gate import HoldGate
from kgate.proxy import headers as hdr
from kgate.proxy.attributes import NonCanonicalPath, RequestAttributes, parse_request
from kgate.proxy.engine import (
    Downstream,
    UpgradedStream,
    Upstream,
    UpstreamRequest,
    UpstreamResponse,
)
from kgate.proxy.errors import (
    MaskingFailed,
    Refusal,
    UpstreamError,
    bad_request,
    unauthorized,
)
from kgate.proxy.facts import gather_facts
from kgate.proxy.review import settle_review
from kgate.proxy.session import Exchange, Session
from kgate.proxy.stages.audit import LOG_RULE, AuditSink, LogUnavailable, NoAudit, log_refusal
from kgate.proxy.stages.body import PROTOBUF, inspect_body
from kgate.proxy.stages.masking import (
    BodyStream,
    Primed,
    RequestBodyCheck,
    ResponseMasker,
    StreamMasker,
)
from kgate.proxy.stages.policy import PolicyDecider, PolicyStage, refusal_for
from kgate.proxy.stages.priming import needs_priming, secrets_referenced_by
from kgate.proxy.stages.scope import GrantScope, Ungranted

log = logging.getLogger("kgate.proxy")

MAX_REQUEST_BODY = 16 * 1024 * 1024
MAX_MASKED_BODY = 512 * 1024 * 1024
_JSON_TYPES = ("application/json",)
#: Bodies (and stream backlogs) from this size on are masked on the masking thread, not on the
#: event loop: a 10 MB List takes long enough to stall every other call of the session.
#: Below it, the hop to the thread costs more than the masking.
OFF_LOOP_MIN = 256 * 1024
#: One worker: big bodies queue behind each other instead of each taking a core (and its
#: memory); small bodies keep being masked on the loop meanwhile (``masking.Masker`` gives each
#: thread its own walker over the session's shared, locked state).
_MASKING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kgate-mask")
#: A stream chunk that took this long (seconds) to mask on the loop sends the stream's next
#: chunks to the masking thread (``Pipeline._stream``).
SLOW_FEED = 0.005
_T = TypeVar("_T")
_STATUS_HEADERS: hdr.Headers = (("Content-Type", "application/json"),)


@dataclass
class Pipeline:
    """The stages of one proxy run, applied in order to every exchange."""

    session: Session
    upstream: Upstream
    masker: ResponseMasker
    body_check: RequestBodyCheck
    scope: GrantScope = field(default_factory=Ungranted)
    policy: PolicyDecider = field(default_factory=PolicyStage)
    audit: AuditSink = field(default_factory=NoAudit)
    #: Where calls the policy sends to review wait; None: review refuses (no store to wait on).
    holds: HoldGate | None = None

    async def handle(self, down: Downstream) -> None:
        """Run one exchange to its end; never raises for expected failures."""
        exchange = Exchange(session_id=self.session.id, method=down.method,
                            raw_path=down.raw_path,
                            kubectl_command=hdr.get(down.headers, "kubectl-command"),
                            kubectl_session=hdr.get(down.headers, "kubectl-session"),
                            impersonate_user=hdr.get(down.headers, "impersonate-user"))
        recorded = False
        try:
            if (broken := self.audit.unavailable()) is not None:
                raise log_refusal(broken)  # fail closed: no call goes unrecorded
            await self._run(down, exchange)
        except Refusal as refusal:
            if exchange.decision != "review":  # a held call keeps "review" (and its hold id)
                exchange.decision = "deny" if refusal.code < 500 else "error"
            exchange.rule = exchange.rule or refusal.rule
            exchange.message = refusal.message
            exchange.status = refusal.code
            if refusal.rule != LOG_RULE:
                # A refusal is in the log before the agent hears of it.
                exchange.ended = time.time()
                recorded = True
                try:
                    await self.audit.record_now(exchange)
                except LogUnavailable as err:
                    refusal = log_refusal(str(err))
            await down.respond(refusal.code, _STATUS_HEADERS, refusal.body())
        except ConnectionError:
            exchange.message = "the client went away"
        except Exception as err:  # a bug must still fail closed, and politely
            await self._internal_error(down, exchange, err)
        finally:
            if not recorded:
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
        content_type = hdr.get(down.headers, "content-type") or ""
        body = None
        if not (down.is_upgrade and attrs.is_exec_like) and _may_have_body(down):
            body = await down.read_body(MAX_REQUEST_BODY)
            if body:
                self._inspect_body(down, exchange, attrs, content_type, body)
        self.scope.check(attrs)
        facts = gather_facts(attrs, down.headers, body, exchange.body, content_type,
                             self.body_check)
        decision = await self.policy.decide(facts)
        exchange.decision, exchange.rule = decision.action, decision.rule
        if decision.action == "deny":
            raise refusal_for(decision)
        path_qs = down.raw_path + (f"?{down.raw_query}" if down.raw_query else "")
        if decision.action == "review":
            await settle_review(self.holds, self.upstream, self.masker, exchange, attrs,
                                decision, path_qs, content_type, body)
        transcoded = False
        if body is not None and facts.restored_body is not None:
            body = facts.restored_body   # placeholders put back where they were read from
            # a protobuf body is restored by transcoding it: what goes upstream is JSON
            transcoded = exchange.body is not None and exchange.body.media_type == PROTOBUF
        # Values primed for this exchange stay pinned until its stream ends: an agent that
        # floods the session with other values cannot evict them while the output flows.
        primed = await self._prime(attrs) if needs_priming(attrs) else None
        try:
            # Only exec, attach and port-forward may upgrade. Any other request carrying
            # upgrade headers takes the masked path below (the headers are hop-by-hop and are
            # not forwarded): an upgrade header must never be a way around masking.
            if down.is_upgrade and attrs.is_exec_like:
                await self._relay(down, exchange, attrs, path_qs)
                return
            await self._exchange(down, exchange, attrs, path_qs, body, transcoded)
        finally:
            if primed is not None:
                primed.release()

    async def _exchange(self, down: Downstream, exchange: Exchange, attrs: RequestAttributes,
                        path_qs: str, body: bytes | None, transcoded: bool = False) -> None:
        """A plain request: forwarded, reply masked. ``transcoded``: ``body`` is JSON in place
        of the agent's protobuf, so its Content-Type says so (the length is recomputed)."""
        headers = hdr.request_headers(down.headers, rewrite_accept=attrs.is_resource)
        if transcoded:
            headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
            headers.append(("Content-Type", "application/json"))
        request = UpstreamRequest(method=down.method, path_qs=path_qs, body=body,
                                  headers=headers)
        response = await self._forward(request)
        try:
            exchange.upstream_status = response.status
            await self._deliver(down, exchange, attrs, response)
        finally:
            response.close()

    def _inspect_body(self, down: Downstream, exchange: Exchange, attrs: RequestAttributes,
                      content_type: str, body: bytes) -> None:
        """What the body is (kind/name, even for protobuf) and the masked copy a log keeps.

        Done before policy: ``body:`` rules, the placeholder guardrail and a hold's view of the
        call all need it. A body that cannot be inspected is refused here (``inspect_body``).
        """
        exchange.bytes_in = len(body)
        exchange.body = inspect_body(content_type, hdr.get(down.headers, "content-encoding"),
                                     body)
        if self.audit.keeps_bodies:  # no masked copy when nothing keeps it
            exchange.body_log = self.body_check.log_copy(attrs, content_type, body,
                                                         exchange.body)

    async def _prime(self, attrs: RequestAttributes) -> Primed:
        """Teach the masker the pod's Secrets before its logs or exec output are relayed.

        Fetched with the broker's credential. Every value of every Secret the pod references is
        learned, whatever its shape (see ``stages.priming``), and pinned until ``release``. A
        Secret that does not exist is skipped (the pod cannot print it either); any other
        failure refuses the request, since kgate would not recognise those values in the output.
        """
        base = f"/api/v1/namespaces/{quote(attrs.namespace, safe='')}"
        raw_pod = await self._fetch_json(f"{base}/pods/{quote(attrs.name, safe='')}")
        try:
            pod = orjson.loads(raw_pod) if raw_pod is not None else None
            secrets: list[object] = []
            for name in secrets_referenced_by(pod):
                raw = await self._fetch_json(f"{base}/secrets/{quote(name, safe='')}")
                if raw is not None:
                    secrets.append(orjson.loads(raw))
            return self.masker.prime(pod, secrets)
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
        """Mask and send the reply: JSON bodies whole (big Lists and Tables batch by batch as
        they are masked), watches and logs as they come."""
        out_headers = hdr.response_headers(response.headers)
        ctype = hdr.media_type(hdr.get(response.headers, "content-type"))
        exchange.status = response.status
        if response.status == 401:
            # Upstream rejected the broker's credential, not the agent's session token: say so
            # instead of letting kubectl tell the agent to log in.
            raise Refusal(502, f"the API server {self.upstream.name} rejected kgate's upstream "
                               "credential (401 Unauthorized); the user must refresh the "
                               "credentials of that kubeconfig context")
        if response.status < 200:
            # Only the upgrade path may switch protocols; here it would be a way around masking.
            raise Refusal(502, f"the API server {self.upstream.name} answered "
                               f"{response.status} to a request that does not upgrade; "
                               "refusing to pass it on")
        if not attrs.is_resource:
            await self._stream(down, exchange, response, out_headers, None)
            return
        if attrs.is_watch and ctype in _JSON_TYPES:
            await self._stream(down, exchange, response, out_headers,
                               self.masker.watch_stream(attrs), off_loop=True)
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
        stream = None
        if body:
            try:
                if len(body) >= OFF_LOOP_MIN:
                    stream, body, masked = await _off_loop(_begin, self.masker, attrs, body)
                else:
                    body, masked = self.masker.mask_body(attrs, body)
            except MaskingFailed as err:
                raise Refusal(502, f"could not mask the reply for {attrs.group_resource} "
                                   f"({err}); refusing to pass it on") from None
            exchange.masked += masked
        if stream is not None:
            await self._send_batches(down, exchange, response.status, out_headers, stream, body)
            return
        exchange.bytes_out = len(body)
        await down.respond(response.status, out_headers, body)

    async def _send_batches(self, down: Downstream, exchange: Exchange, status: int,
                            out_headers: hdr.Headers, stream: BodyStream, first: bytes) -> None:
        """A big List, sent as the masking thread finishes each batch of it (chunked).

        ``first`` was masked before the head went out, so a reply kgate cannot mask at all is
        still a clean 502. The masking thread stays one batch ahead of the agent: while batch k
        is written, k+1 is masked, and no further — a slow agent holds kgate back instead of
        making it buffer the whole output. A failure after the head cuts the connection: the
        agent sees a broken reply, never unmasked bytes or a shorter valid-looking document.
        """
        loop = asyncio.get_running_loop()
        await down.start(status, out_headers)   # no Content-Length: response_headers drops it
        pending: asyncio.Future[bytes | None] | None = None
        batch: bytes | None = first
        try:
            while batch is not None:
                pending = loop.run_in_executor(_MASKING, _step, stream)
                await down.write(batch)
                exchange.bytes_out += len(batch)
                batch = await pending
                pending = None
        except MaskingFailed as err:
            exchange.message = (f"reply cut after {exchange.bytes_out} bytes: could not mask "
                                f"the rest ({err})")
            exchange.decision = "error"
            down.abort()
            return
        finally:
            if pending is not None:
                # The agent went away mid-write: let the step in flight end before the stream
                # is dropped (its error, if any, no longer matters).
                await asyncio.wait([pending])
                if not pending.cancelled():
                    pending.exception()
            exchange.masked += stream.masked
        await down.finish()

    async def _stream(self, down: Downstream, exchange: Exchange, response: UpstreamResponse,
                      out_headers: hdr.Headers, masker: StreamMasker | None,
                      off_loop: bool = False) -> None:
        """Send the head at once (a quiet watch must still start), then chunks as they come.

        ``off_loop``: a backlog of ``OFF_LOOP_MIN`` bytes (a huge watch event) is masked on the
        masking thread. Chunks are masked on the loop as they come until one takes longer than
        ``SLOW_FEED`` (log text dense with detector anchors, which a pod can print at will):
        from then on the stream's chunks are masked on the masking thread, so it cannot stall
        the session's other calls."""
        await down.start(response.status, out_headers)
        if masker is not None:  # a watch or a log follow: may run for hours
            self.audit.stream_opened(exchange)
        backlog = 0   # bytes fed since the masker last gave something out
        slow = False
        try:
            async for chunk in response.chunks():
                if masker is not None:
                    backlog += len(chunk)
                    if slow or (off_loop and backlog >= OFF_LOOP_MIN):
                        chunk = await _off_loop(masker.feed, chunk)
                    else:
                        started = time.perf_counter()
                        chunk = masker.feed(chunk)
                        slow = time.perf_counter() - started > SLOW_FEED
                    if chunk:
                        backlog = 0
                if chunk:
                    exchange.bytes_out += len(chunk)
                    await down.write(chunk)
            if masker is None:
                tail = b""
            elif slow or (off_loop and backlog >= OFF_LOOP_MIN):
                tail = await _off_loop(masker.flush)
            else:
                tail = masker.flush()
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
        # exec/attach over anything but WebSocket or SPDY/3.1 never gets here (mask-exec-output).
        frames = self.masker.exec_frames(attrs) if attrs.is_exec_like else None
        request = UpstreamRequest(method=down.method, path_qs=path_qs,
                                  headers=hdr.upgrade_request_headers(down.headers))
        try:
            stream = await self.upstream.open_upgrade(request)
        except UpstreamError as err:
            raise err.refusal() from None
        exchange.upstream_status = exchange.status = stream.status
        if stream.status != 101:
            stream.close()
            await self._refused_upgrade(down, exchange, attrs, stream)
            return
        exchange.upgraded = True
        # exec/attach is recorded as channel frames, over WebSocket and SPDY alike
        recorder = self.audit.recorder(exchange) if frames is not None else None
        self.audit.stream_opened(exchange)
        try:
            exchange.bytes_out = await down.relay(stream, frames, recorder)
        finally:
            stream.close()  # also when the exchange is cut (grant over): end upstream's session
            if frames is not None:
                exchange.masked += frames.masked
            if recorder is not None:
                recorder.close()

    async def _refused_upgrade(self, down: Downstream, exchange: Exchange,
                               attrs: RequestAttributes, stream: UpgradedStream) -> None:
        """Upstream declined the upgrade: its reply is an error body, masked like any reply.

        kubectl retries exec as SPDY on any non-101 reply, so a 502 keeps its fallback working
        as well as upstream's own answer would.
        """
        body = stream.body
        ctype = hdr.media_type(hdr.get(stream.headers, "content-type"))
        if body:
            if ctype not in _JSON_TYPES:
                raise Refusal(502, f"the API server {self.upstream.name} declined the "
                                   f"{attrs.subresource} upgrade with a {ctype or 'untyped'} "
                                   "body, which kgate cannot mask; refusing to pass it on")
            try:
                body, masked = self.masker.mask_body(attrs, body)
            except MaskingFailed as err:
                raise Refusal(502, f"could not mask the reply to the {attrs.subresource} "
                                   f"upgrade ({err}); refusing to pass it on") from None
            exchange.masked += masked
        exchange.bytes_out = len(body)
        await down.respond(stream.status, hdr.response_headers(stream.headers), body)


def _begin(masker: ResponseMasker, attrs: RequestAttributes, body: bytes
           ) -> tuple[BodyStream | None, bytes, int]:
    """On the masking thread: a big List's stream and its first batch (masked count comes with
    the stream), or any other body masked whole (``MaskingFailed`` from either)."""
    stream = masker.mask_stream(attrs, body)
    if stream is None:
        return None, *masker.mask_body(attrs, body)
    return stream, next(stream, b""), 0


def _step(stream: BodyStream) -> bytes | None:
    """On the masking thread: the stream's next batch, ``None`` at its end."""
    return next(stream, None)


def _may_have_body(down: Downstream) -> bool:
    return down.method in ("POST", "PUT", "PATCH", "DELETE")


async def _off_loop(fn: Callable[..., _T], *args: object) -> _T:
    """``fn(*args)`` on the masking thread; the event loop serves other calls meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(_MASKING, fn, *args)


async def _read(response: UpstreamResponse, name: str) -> bytes:
    try:
        return await response.read(MAX_MASKED_BODY)
    except UpstreamError as err:
        raise err.refusal() from None
