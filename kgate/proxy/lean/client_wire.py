"""One keep-alive HTTP/1.1 connection to the API server: an ``asyncio.Protocol`` that feeds
what arrives to llhttp (``httptools.HttpResponseParser``) and queues the body for one reader.

One exchange at a time: ``exchange`` writes a request and waits for the reply head, then the
reader takes body pieces with ``next_piece``. The queue is bounded by flow control: past
``HIGH_WATER`` queued bytes the socket is not read until the reader catches up, so a slow agent
on a fast watch holds back the API server (through TCP) instead of growing kgate's memory.

Anything unexpected — bytes while idle, a second reply, a head over ``MAX_HEAD``, a parser error,
the connection closing before a length- or chunk-delimited body is complete — breaks the
connection: the reader gets ``Broken`` (never a silently short "complete" body) and the pool
never sees it again.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from typing import cast

import httptools

from kgate.proxy import headers as hdr

MAX_HEAD = 64 * 1024
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024


class Broken(Exception):
    """The connection cannot carry (the rest of) this reply.

    ``received`` says whether any byte of the reply had arrived: a reused connection the server
    had already closed breaks with nothing received, and only then may a request be replayed.
    """

    def __init__(self, reason: str, *, received: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.received = received


class UpstreamConnection(asyncio.Protocol):
    """A connection and the state of the exchange it carries (if any)."""

    def __init__(self, ctx: ssl.SSLContext | None) -> None:
        self.ctx = ctx
        self.idle_since = time.monotonic()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._lost = False
        self._busy = False
        self._paused = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: hdr.Headers = ()  # the reply's, once its head is complete
        self._fields: list[tuple[str, str]] = []
        self.complete = False
        self.keep_alive = False
        self._head_done = False
        self._head_size = 0  # header names and values so far
        self._head_fed = 0  # bytes fed while the head was incomplete (the head and more)
        self._received = False
        self._late = False
        self._skip_body = False
        self._close_delimited = False
        self._error: str | None = None
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None

    # -- the pool's view -------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Idle, open, and nothing went wrong: may carry another exchange."""
        return (not self._busy and not self._lost and self._error is None
                and self._transport is not None and not self._transport.is_closing())

    def close(self) -> None:
        self._lost = True
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        self._lost = True
        if self._transport is not None:
            self._transport.abort()

    # -- one exchange ----------------------------------------------------------------------

    async def exchange(self, head: bytes, body: bytes | None, *, is_head: bool,
                       deadline: float | None = None) -> None:
        """Write the request, wait for the reply head (``Broken`` if it cannot come;
        ``TimeoutError`` if it has not come by ``deadline``, in the loop's time)."""
        assert self._transport is not None and not self._busy
        self._reset()
        self._busy = True
        self._skip_body = is_head
        if self._lost or self._transport.is_closing():
            raise Broken("the connection was closed", received=False)
        self._transport.write(head + body if body else head)
        timer = None if deadline is None else \
            asyncio.get_running_loop().call_at(deadline, self._head_late)
        try:
            while not self._head_done:
                await self._wait()
                if self._late and not self._head_done:
                    raise TimeoutError
        finally:
            if timer is not None:
                timer.cancel()

    def _head_late(self) -> None:
        self._late = True
        self._wake()

    def take_body(self) -> bytes:
        """All of a complete reply's (still encoded) body at once."""
        pieces = self._body
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        pieces.clear()
        self._buffered = 0
        return body

    async def next_piece(self) -> bytes | None:
        """The next piece of the (still encoded) body; ``None`` at its end."""
        while True:
            if self._body:
                piece = self._body.popleft()
                self._buffered -= len(piece)
                if self._paused and self._buffered <= LOW_WATER and not self._lost:
                    self._paused = False
                    assert self._transport is not None
                    self._transport.resume_reading()
                return piece
            if self.complete:
                return None
            await self._wait()

    def finish(self) -> bool:
        """The exchange is over; whether the connection may carry another one."""
        self._busy = False
        self._body.clear()
        self._buffered = 0
        if self._paused and not self._lost and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        self.idle_since = time.monotonic()
        return self.complete and self.keep_alive and self.usable

    async def _wait(self) -> None:
        if self._error is not None:
            raise Broken(self._error, received=self._received)
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        if self._error is not None and not (self._body or self.complete):
            raise Broken(self._error, received=self._received)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _break(self, reason: str) -> None:
        if self._error is None:
            self._error = reason
        self.abort()
        self._wake()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transport is a Transport in all but its class hierarchy.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self._busy or self.complete:
            self._break("the API server sent bytes outside a reply")
            return
        self._received = True
        if not self._head_done:
            self._head_fed += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # A 101 to a request that did not upgrade: its head is all the pipeline needs
            # (it refuses any 1xx); nothing after it is HTTP.
            self.complete = True
            self.keep_alive = False
        except httptools.HttpParserError as err:
            if not (self._skip_body and self._head_done):  # else: a HEAD reply, complete
                self._break(self._error or f"unparsable reply ({_why(err)})")
                return
        if not self._head_done and self._head_fed > MAX_HEAD:
            self._break(f"reply head larger than {MAX_HEAD // 1024} KiB")
            return
        if self._buffered > HIGH_WATER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost says what that meant

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._busy and not self.complete:
            if self._head_done and self._close_delimited and self._error is None:
                self.complete = True  # the body ended where the server closed
            else:
                self._break(self._error or "the connection closed before the reply was complete")
        self._wake()

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._head_done and not self.complete:
            return  # llhttp never calls this mid-message; be safe
        if self.complete:
            raise ValueError("a second reply")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._head_done:
            return  # a chunked body's trailer: nothing kgate passes on
        self._head_size += len(name) + len(value)
        if self._head_size > MAX_HEAD:
            self._error = f"reply head larger than {MAX_HEAD // 1024} KiB"
            raise ValueError(self._error)
        self._fields.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._fields = []  # an interim reply (100 Continue, 103): the real one follows
            self._head_size = self._head_fed = 0
            return
        self.status = status
        self._head_done = True
        self.headers = fields = hdr.Fields(self._fields)
        self._close_delimited = (
            "content-length" not in fields.by_name and "transfer-encoding" not in fields.by_name
            and status not in (204, 304) and not self._skip_body)
        if self._skip_body:  # a HEAD request's reply has no body, whatever it announces
            self.complete = True
            self.keep_alive = False
            raise _SkipBody

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        self._body.append(body)
        self._buffered += len(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101 and not self._head_done:
            return
        self.keep_alive = self._parser.should_keep_alive()
        self.complete = True


class _SkipBody(httptools.HttpParserError):
    """Raised from ``on_headers_complete`` to stop parsing a HEAD reply (the connection is
    not reused)."""


def _why(err: Exception) -> str:
    """llhttp's reason in one line (it names the rule broken, never echoes payload)."""
    text = str(err).splitlines()[0] if str(err) else ""
    return text[:80] or type(err).__name__
