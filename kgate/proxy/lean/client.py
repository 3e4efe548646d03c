"""The lean engine's upstream client: a pool of keep-alive HTTP/1.1 connections to the API
server over stdlib TLS, replies parsed by llhttp (``client_wire``), the broker's credential from
the injected ``UpstreamAuth`` (``kgate.proxy.credentials``).

What the agent sees when upstream fails is the same as with the aiohttp client: 503 when the API
server cannot be reached (or the credential cannot be had), 504 when it does not answer within
``HEAD_TIMEOUT`` (connecting: ``CONNECT_TIMEOUT``), 502 for a bad reply, each a one-line message
without payload. There is no timeout on a body: watches and log follows run for hours.

A connection goes back to the pool only after its reply arrived completely and keep-alive; a
reply abandoned mid-body closes its connection. A pooled connection the server had closed is
replaced once, for requests that are safe to replay (GET, HEAD, OPTIONS), and only when nothing
of the reply had arrived. Bodies come decompressed: kgate asks for gzip (as aiohttp did) and
inflates as the body streams, in bounded pieces.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import weakref
import zlib
from collections.abc import AsyncIterator

from kgate.proxy import headers as hdr
from kgate.proxy.credentials import KubeconfigAuth, UpstreamAuth
from kgate.proxy.engine import UpstreamRequest
from kgate.proxy.errors import UpstreamError
from kgate.proxy.lean.client_wire import Broken, UpstreamConnection
from kgate.proxy.lean.upstream_raw import (
    RawUpgrade,
    authorized_headers,
    encode_head,
    host_header,
    open_raw_upgrade,
    server_prefix,
)
from kgate.upstream_config import UpstreamSettings

CONNECT_TIMEOUT = 10.0
HEAD_TIMEOUT = 120.0
#: Idle connections kept for reuse; more are closed when their reply ends. Each concurrent
#: agent call holds a connection of its own (HTTP/1.1), so the pool must keep as many as an agent
#: runs at once: past the bound every reply closes its connection and the next call pays a TLS
#: handshake (64 connections of small GETs: 714 -> 447 µs of CPU per call going from 32 to 128).
MAX_IDLE = 128
#: An idle connection older than this is closed rather than reused (load balancers and API
#: servers drop idle connections; a replay is only possible for safe requests).
IDLE_TTL = 60.0
_REPLAYABLE = frozenset({"GET", "HEAD", "OPTIONS"})
#: Decompressed output per step: a small gzip bomb becomes many bounded pieces, each of which
#: the reader (``read`` with its limit, or the streaming masker) sees before the next.
_INFLATE_STEP = 256 * 1024


class LeanResponse:
    """An upstream reply whose body is read lazily (chunk by chunk or whole)."""

    def __init__(self, conn: UpstreamConnection, client: LeanUpstream,
                 inflater: _Inflater | None) -> None:
        self._conn: UpstreamConnection | None = conn
        self._client = client
        self._inflater = inflater
        self.status = conn.status
        self.headers: hdr.Headers = conn.headers

    async def chunks(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        inflater = self._inflater
        try:
            while (piece := await conn.next_piece()) is not None:
                if inflater is None:
                    yield piece
                else:
                    for out in inflater.feed(piece):
                        yield out
            if inflater is not None:
                tail = inflater.finish()
                if tail:
                    yield tail
        except Broken as err:
            self.close()
            raise UpstreamError(502, f"the reply from {self._client.name} broke off: "
                                     f"{err.reason}") from None
        except zlib.error:
            self.close()
            raise UpstreamError(502, f"the reply from {self._client.name} broke off: its "
                                     "compressed body is corrupt") from None
        self.close()  # read completely: the connection may serve the next request

    async def read(self, limit: int) -> bytes:
        conn = self._conn
        if conn is not None and self._inflater is None and conn.complete:
            # The whole reply is in (a small one comes with its head): take it at once.
            body = conn.take_body()
            self.close()
            if len(body) > limit:
                raise UpstreamError(502, f"the reply from {self._client.name} is larger than "
                                         f"{limit // (1024 * 1024)} MiB")
            return body
        parts: list[bytes] = []
        size = 0
        async for chunk in self.chunks():
            size += len(chunk)
            if size > limit:
                self.close()
                raise UpstreamError(502, f"the reply from {self._client.name} is larger than "
                                         f"{limit // (1024 * 1024)} MiB")
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._client._release(conn)


class _Inflater:
    """Streaming gzip/deflate in bounded steps; ``finish`` refuses a stream that stopped
    before its end (a truncated body must not pass as complete)."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        # gzip: gzip header; deflate: zlib header, raw deflate tried if that fails (as aiohttp).
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip"
                                     else zlib.MAX_WBITS)
        self._started = False

    def feed(self, data: bytes) -> list[bytes]:
        if not self._started and self._encoding == "deflate" and data:
            self._started = True
            try:
                first = self._z.decompress(data, _INFLATE_STEP)
            except zlib.error:
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                first = self._z.decompress(data, _INFLATE_STEP)
            out = [first] if first else []
        else:
            self._started = True
            out = []
            if self._z.eof:
                if data:
                    raise zlib.error("data after the end of the compressed body")
                return out
            first = self._z.decompress(data, _INFLATE_STEP)
            if first:
                out.append(first)
        while self._z.unconsumed_tail:
            more = self._z.decompress(self._z.unconsumed_tail, _INFLATE_STEP)
            if more:
                out.append(more)
        if self._z.unused_data:
            raise zlib.error("data after the end of the compressed body")
        return out

    def finish(self) -> bytes:
        if not self._started:
            return b""  # an empty body: nothing was compressed
        tail = self._z.flush()
        if not self._z.eof:
            raise zlib.error("the compressed body ended early")
        return tail


def _inflater_for(headers: hdr.Headers, name: str) -> _Inflater | None:
    encoding = (hdr.get(headers, "content-encoding") or "").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return _Inflater("gzip")
    if encoding == "deflate":
        return _Inflater("deflate")
    raise UpstreamError(502, f"the API server {name} sent a body in an encoding kgate did not "
                             f"ask for ({encoding[:40]})")


class LeanUpstream:
    """Forwards requests to the API server named by ``settings`` with the broker's credential.

    ``auth`` defaults to the kubeconfig's own credential (``KubeconfigAuth``).
    """

    def __init__(self, settings: UpstreamSettings, auth: UpstreamAuth | None = None) -> None:
        self.settings = settings
        self._auth: UpstreamAuth = auth if auth is not None else KubeconfigAuth(settings)
        self._https = settings.server.startswith("https")
        self._prefix = server_prefix(settings)
        self._host_line = f"Host: {host_header(settings)}\r\n"
        self._idle: list[UpstreamConnection] = []
        # Every open connection, idle or carrying a reply: ``close`` ends them all.
        self._all: weakref.WeakSet[UpstreamConnection] = weakref.WeakSet()
        self._closed = False
        #: How messages name the API server.
        self.name = f"{settings.server} (context {settings.context})"

    @property
    def auth(self) -> UpstreamAuth:
        return self._auth

    credentials = auth

    async def close(self) -> None:
        """Close the pool and end any reply still streaming (as aiohttp's session did)."""
        self._closed = True
        self._idle = []
        for conn in list(self._all):
            conn.abort()

    async def send(self, request: UpstreamRequest) -> LeanResponse:
        headers = await authorized_headers(self._auth, self.name, request.headers)
        ctx = await self._auth.ssl_context() if self._https else None
        head = self._head(request, headers)
        body = request.body
        method = request.method.upper()
        replays = 1 if method in _REPLAYABLE else 0
        fresh = False
        loop = asyncio.get_running_loop()
        while True:
            conn = None if fresh else self._take(ctx)
            reused = conn is not None
            # One bound for connecting and the reply head; a pooled connection's exchange
            # keeps it with a timer of its own (cheaper than a timeout context per request).
            deadline = loop.time() + HEAD_TIMEOUT
            try:
                if conn is None:
                    async with asyncio.timeout_at(deadline):
                        conn = await self._connect(ctx)
                await conn.exchange(head, body, is_head=method == "HEAD", deadline=deadline)
            except TimeoutError as err:
                if conn is not None:
                    conn.abort()
                raise UpstreamError(504, f"the API server {self.name} did not answer within "
                                         f"{HEAD_TIMEOUT:.0f}s") from err
            except Broken as err:
                assert conn is not None
                conn.abort()
                if reused and replays and not err.received:
                    replays -= 1  # the server had closed this pooled connection: so it may
                    fresh = True  # have closed the others too; replay on a new one
                    continue
                raise UpstreamError(502, f"the API server {self.name} sent a bad reply "
                                         f"({err.reason})") from None
            except BaseException:  # cancelled (the agent left): the reply will not be read
                if conn is not None:
                    conn.abort()
                raise
            break
        try:
            inflater = _inflater_for(conn.headers, self.name)
        except UpstreamError:
            conn.abort()
            raise
        if conn.status == 401:
            self._auth.on_unauthorized()
        return LeanResponse(conn, self, inflater)

    async def open_upgrade(self, request: UpstreamRequest) -> RawUpgrade:
        """Send an upgrade request on a fresh connection and read the reply head."""
        headers = await authorized_headers(self._auth, self.name, request.headers)
        tls = await self._auth.ssl_context() if self._https else None
        return await open_raw_upgrade(self.settings, self.name, tls, request, headers,
                                      connect_timeout=CONNECT_TIMEOUT,
                                      head_timeout=HEAD_TIMEOUT)

    # -- the pool ----------------------------------------------------------------------------

    def _take(self, ctx: ssl.SSLContext | None) -> UpstreamConnection | None:
        """The most recently used idle connection made with ``ctx`` (a rotated client
        certificate means a new context: connections of the old one are not reused)."""
        expired = time.monotonic() - IDLE_TTL
        while self._idle:
            conn = self._idle.pop()
            if conn.usable and conn.ctx is ctx and conn.idle_since > expired:
                return conn
            conn.close()
        return None

    def _release(self, conn: UpstreamConnection) -> None:
        if conn.finish() and not self._closed and len(self._idle) < MAX_IDLE:
            self._idle.append(conn)
        else:
            conn.abort()

    async def _connect(self, ctx: ssl.SSLContext | None) -> UpstreamConnection:
        host, port = self.settings.host_port
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                _, conn = await loop.create_connection(
                    lambda: UpstreamConnection(ctx), host, port, ssl=ctx,
                    server_hostname=(self.settings.tls_server_name or host) if ctx else None)
        except TimeoutError as err:
            raise UpstreamError(504, f"connecting to the API server {self.name} timed out"
                                ) from err
        except ssl.SSLCertVerificationError as err:
            raise UpstreamError(502, f"the API server {self.name} presented a certificate "
                                     f"kgate does not trust: {err.verify_message}") from err
        except ssl.SSLError as err:
            raise UpstreamError(502, f"TLS with the API server {self.name} failed: "
                                     f"{err.reason}") from err
        except OSError as err:
            raise UpstreamError(503, f"the API server {self.name} is unreachable "
                                     f"({err.strerror or type(err).__name__})") from err
        self._all.add(conn)
        return conn

    def _head(self, request: UpstreamRequest, headers: hdr.Headers) -> bytes:
        lines = [f"{request.method} {self._prefix}{request.path_qs} HTTP/1.1\r\n",
                 self._host_line]
        lines += [f"{k}: {v}\r\n" for k, v in headers]
        if request.body is not None or request.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(request.body or b'')}\r\n")
        lines += ["Accept-Encoding: gzip\r\n", "\r\n"]
        return encode_head(lines)
