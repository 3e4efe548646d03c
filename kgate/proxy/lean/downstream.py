"""``LeanDownstream``: one request on an agent connection, as the pipeline sees it (the
``Downstream`` protocol of ``kgate.proxy.engine``).

The request body is buffered by the connection as it arrives and taken by ``read_body``; a reply
is written either whole (``respond``, with ``Content-Length``) or streamed (``start``/``write``/
``finish``: chunked unless the pipeline's headers give a length; close-delimited for an HTTP/1.0
agent). Framing headers in what the pipeline passes are replaced by kgate's own. A connection is
kept for the next request only if this one's body was read to its end, the agent did not ask to
close, and the request carried no ``Upgrade`` header (the parser may already treat what follows
as the upgraded protocol).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kgate.proxy import headers as hdr
from kgate.proxy.engine import FrameMasker, StreamRecorder, UpgradedStream
from kgate.proxy.errors import Refusal
from kgate.proxy.lean import http1, runtime
from kgate.proxy.lean.raw import relay_raw
from kgate.proxy.lean.websocket import handshake, relay_websocket
from kgate.proxy.spdy import ExecFilter

if TYPE_CHECKING:
    from kgate.proxy.lean.connection import AgentConnection

_NEW, _STREAMING, _DONE = 0, 1, 2


def _too_large(limit: int) -> Refusal:
    return Refusal(413, f"request bodies over {limit // (1024 * 1024)} MiB are not accepted",
                   reason="RequestEntityTooLarge")


class LeanDownstream:
    """One incoming request and its reply."""

    def __init__(self, conn: AgentConnection, method: str, target: str, headers: hdr.Headers,
                 *, keep_alive: bool, http11: bool) -> None:
        self._conn = conn
        self.method = method
        path, _, query = target.partition("?")
        self.raw_path, self.raw_query = path, query
        self.headers = headers
        self.is_upgrade = hdr.is_upgrade(headers)
        self._keep = keep_alive and hdr.get(headers, "upgrade") is None
        self._http11 = http11
        self._body = bytearray()
        self.body_complete = False
        self._body_error: Refusal | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._continued = False
        self._state = _NEW
        self._chunked = False
        self._bodyless = False
        self._sent = 0  # body bytes of a streamed reply

    # ------------------------------------------------------------ fed by the connection

    @property
    def declared_length(self) -> int:
        """The body length the head declares (0 without ``Content-Length``)."""
        return int(hdr.get(self.headers, "content-length") or 0)

    @property
    def buffered(self) -> int:
        return len(self._body)

    def body_arrived(self, data: bytes) -> None:
        self._body += data
        self.wake()

    def body_done(self) -> None:
        self.body_complete = True
        self.wake()

    def body_failed(self, code: int, message: str) -> None:
        self._body_error = Refusal(code, message)
        self.wake()

    def ends_connection(self) -> None:
        self._keep = False

    def wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    @property
    def reusable(self) -> bool:
        """Whether the connection may carry the next request after this exchange."""
        return self._keep and self.body_complete and self._state == _DONE

    # ------------------------------------------------------------ the Downstream protocol

    async def read_body(self, limit: int) -> bytes:
        length = hdr.get(self.headers, "content-length")
        if length is not None and int(length) > limit:  # llhttp let only digits through
            raise _too_large(limit)
        conn = self._conn
        if (not self.body_complete and not self._continued
                and (hdr.get(self.headers, "expect") or "").lower() == "100-continue"):
            self._continued = True
            conn.write(http1.CONTINUE)
        parts: list[bytes] = []
        size = 0
        while True:
            if self._body:
                data = bytes(self._body)
                self._body.clear()
                size += len(data)
                if size > limit:
                    raise _too_large(limit)
                parts.append(data)
                conn.flow()
            if self.body_complete:
                return b"".join(parts)
            if self._body_error is not None:
                raise self._body_error
            if conn.closed:
                raise ConnectionError("the agent went away while sending the request body")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(conn.timeouts.idle):
                    await self._waiter
            except TimeoutError:
                conn.abort()
                raise ConnectionError("the agent stopped sending its request body") from None
            finally:
                self._waiter = None

    async def respond(self, status: int, headers: hdr.Headers, body: bytes) -> None:
        if self._state != _NEW:
            return  # a refusal after the head went out cannot be sent any more
        self._state = _DONE
        out = http1.without_framing(headers)
        bodied = http1.has_body(self.method, status)
        if status >= 200 and status not in (204, 304):
            out.append(("Content-Length", str(len(body))))
        self._connection_header(out)
        data = http1.head(status, out)
        await self._conn.send(data + body if bodied else data)
        runtime.large_reply(len(body))

    async def start(self, status: int, headers: hdr.Headers) -> None:
        if self._state != _NEW:
            raise RuntimeError("the reply has already started")
        out = http1.without_framing(headers)
        length = hdr.get(headers, "content-length")
        if not http1.has_body(self.method, status):
            self._bodyless = True
        elif length is not None:
            out.append(("Content-Length", length))
        elif self._http11:
            out.append(("Transfer-Encoding", "chunked"))
            self._chunked = True
        else:
            self._keep = False  # HTTP/1.0: the body ends when the connection does
        self._connection_header(out)
        self._state = _STREAMING
        await self._conn.send(http1.head(status, out))

    def _connection_header(self, out: list[tuple[str, str]]) -> None:
        if not (self._keep and self.body_complete):
            self._keep = False
            out.append(("Connection", "close"))
        elif not self._http11:
            out.append(("Connection", "keep-alive"))

    async def write(self, chunk: bytes) -> None:
        if self._state != _STREAMING:
            raise RuntimeError("write before start or after finish")
        if chunk and not self._bodyless:
            self._sent += len(chunk)
            await self._conn.send(http1.chunk(chunk) if self._chunked else chunk)

    async def finish(self) -> None:
        if self._state != _STREAMING:
            return
        self._state = _DONE
        runtime.large_reply(self._sent)
        if self._chunked:
            await self._conn.send(http1.LAST_CHUNK)

    @property
    def started(self) -> bool:
        return self._state != _NEW

    def abort(self) -> None:
        self._conn.abort()

    async def relay(self, upstream: UpgradedStream, frames: FrameMasker | None,
                    recorder: StreamRecorder | None = None) -> int:
        websocket = (hdr.get(self.headers, "upgrade") or "").lower() == "websocket"
        head = b""
        if websocket:
            head = handshake(self.headers, upstream.headers)  # Refusal(400) if incomplete
        if not self._conn.start_relay():
            raise Refusal(400, "an upgrade request must not carry a body")
        self._state = _DONE
        self._keep = False
        if websocket:
            protocol = hdr.get(upstream.headers, "sec-websocket-protocol") or ""
            return await relay_websocket(self._conn, head, protocol, upstream, frames, recorder)
        spdy = ExecFilter(frames.feed, frames.flush, recorder) if frames is not None else None
        reply = hdr.response_headers(upstream.headers) + [
            ("Connection", "Upgrade"), ("Upgrade", hdr.get(upstream.headers, "upgrade") or "")]
        return await relay_raw(self._conn, http1.head(101, reply), upstream, spdy)
