"""A cheap HTTP/1.1 keep-alive load client: asyncio ``Protocol`` + ``httptools`` + stdlib ``ssl``.

The proxies under test share two cores with the sandbox and with this client, so the client must
cost little per request or it becomes what is measured. aiohttp's client costs about as much per
request as aiohttp's server; this one sends a pre-encoded request, feeds the reply to llhttp
(``httptools``, C) and counts body bytes without keeping them, on uvloop when it is installed
(its TLS transport is also cheaper than asyncio's). One process, one event loop: a closed loop of
N connections, each sending its next request when the previous reply is complete.

Only what the harness needs: GET, a 200 reply (anything else raises), Content-Length or chunked
bodies (llhttp handles both), no redirects, no compression.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httptools

T = TypeVar("T")


class BadReply(Exception):
    """A reply that was not ``200``, or a connection that closed mid-reply."""


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` on uvloop if installed, else on asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    return uvloop.run(main())


@dataclass(frozen=True)
class Endpoint:
    """Where a target listens and how to talk to it (``ssl`` None: plain HTTP)."""

    url: str
    token: str | None
    ssl: ssl.SSLContext | None

    def request(self, path: str) -> bytes:
        host = urlsplit(self.url).netloc
        auth = f"Authorization: Bearer {self.token}\r\n" if self.token else ""
        return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Accept: application/json\r\n"
                f"User-Agent: kgate-bench\r\n\r\n").encode()


class _Conn(asyncio.Protocol):
    """One keep-alive connection; ``next_reply`` sends a request and awaits the whole reply."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._done: asyncio.Future[int] | None = None
        self._status = 0
        self._bytes = 0
        # A closed loop sets these: on each complete reply, count it and send the next request.
        self._loop_request: bytes | None = None
        self._on_reply: Callable[[], bool] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as err:
            self._fail(BadReply(f"unparseable reply: {err}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(BadReply(f"connection closed mid-reply ({exc})"))

    def _fail(self, err: Exception) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(err)

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._bytes += len(body)

    def on_message_complete(self) -> None:
        if self._status != 200:
            self._fail(BadReply(f"status {self._status}"))
            return
        if self._on_reply is not None and self._on_reply():
            assert self._transport is not None and self._loop_request is not None
            self._transport.write(self._loop_request)
            return
        if self._done is not None and not self._done.done():
            self._done.set_result(self._bytes)

    async def next_reply(self, request: bytes) -> int:
        """Send ``request``; return the body bytes received on this connection so far."""
        assert self._transport is not None
        self._done = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return await self._done

    async def closed_loop(self, request: bytes, on_reply: Callable[[], bool]) -> None:
        """Send ``request`` again after every reply while ``on_reply()`` says so."""
        self._loop_request, self._on_reply = request, on_reply
        try:
            await self.next_reply(request)
        finally:
            self._loop_request = self._on_reply = None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class Pool:
    """``n`` open keep-alive connections to one endpoint."""

    def __init__(self, endpoint: Endpoint, conns: list[_Conn]) -> None:
        self.endpoint = endpoint
        self.conns = conns

    @classmethod
    async def open(cls, endpoint: Endpoint, n: int) -> Pool:
        parts = urlsplit(endpoint.url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 443
        loop = asyncio.get_running_loop()

        async def one() -> _Conn:
            _transport, proto = await loop.create_connection(
                _Conn, host, port, ssl=endpoint.ssl, server_hostname=host if endpoint.ssl else None)
            return proto

        return cls(endpoint, list(await asyncio.gather(*(one() for _ in range(n)))))

    def close(self) -> None:
        for c in self.conns:
            with contextlib.suppress(Exception):
                c.close()

    async def latencies(self, path: str, n: int, budget: float = 1e9, warmup: int = 3
                        ) -> list[float]:
        """Up to ``n`` sequential requests on the first connection, stopping after ``budget``
        seconds once 3 are in; seconds each."""
        req = self.endpoint.request(path)
        conn = self.conns[0]
        for _ in range(warmup):
            await conn.next_reply(req)
        out: list[float] = []
        stop = time.perf_counter() + budget
        while len(out) < n and (len(out) < 3 or time.perf_counter() < stop):
            t0 = time.perf_counter()
            await conn.next_reply(req)
            out.append(time.perf_counter() - t0)
        return out

    async def saturate(self, path: str, seconds: float | None = None, total: int | None = None,
                       probe: Callable[[], float] = lambda: 0.0) -> tuple[int, float, float]:
        """Every connection in a closed loop for ``seconds`` (or until ``total`` replies).

        Returns (replies, elapsed seconds, the change in ``probe()`` — a server's CPU seconds),
        counted from after one warm-up reply (the connections are already open)."""
        req = self.endpoint.request(path)
        await self.conns[0].next_reply(req)
        count = 0
        deadline = time.perf_counter() + (seconds if seconds is not None else 1e9)
        limit = total if total is not None else 1 << 62

        def on_reply() -> bool:
            nonlocal count
            count += 1
            return count + len(self.conns) <= limit and time.perf_counter() < deadline

        cpu0, t0 = probe(), time.perf_counter()
        await asyncio.gather(*(c.closed_loop(req, on_reply) for c in self.conns))
        return count, time.perf_counter() - t0, probe() - cpu0
