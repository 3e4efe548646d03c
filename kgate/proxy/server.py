"""The agent-facing HTTPS server on loopback (aiohttp today).

This module and ``upstream.py``/``relay.py`` are the only ones that touch sockets. Each incoming
request is wrapped in an ``AiohttpDownstream`` (the ``Downstream`` protocol) and handed to the
pipeline; nothing here decides anything. The server listens on 127.0.0.1 (or on a socket the CLI
already bound, so the agent can start before this process has imported aiohttp).
"""

from __future__ import annotations

import logging
import socket
import ssl

from aiohttp import web
from multidict import CIMultiDict

from kgate.proxy import headers as hdr
from kgate.proxy.engine import FrameMasker, StreamRecorder, UpgradedStream
from kgate.proxy.errors import Refusal
from kgate.proxy.pipeline import Pipeline
from kgate.proxy.quietlog import OneLine, quiet_asyncio
from kgate.proxy.relay import relay_raw, relay_websocket
from kgate.proxy.spdy import ExecFilter
from kgate.proxy.watchdog import SessionWatchdog

SHUTDOWN_TIMEOUT = 2.0


#: The logger handed to aiohttp's request handler instead of ``aiohttp.server``.
http_log = logging.getLogger("kgate.proxy.http")
http_log.addFilter(OneLine("the HTTP server dropped a request it could not handle"))
quiet_asyncio()


class AiohttpDownstream:
    """One incoming request, as the pipeline sees it."""

    def __init__(self, request: web.BaseRequest) -> None:
        self._request = request
        self.method = request.method
        path, _, query = request.raw_path.partition("?")
        self.raw_path, self.raw_query = path, query
        self.headers: hdr.Headers = list(request.headers.items())
        self.is_upgrade = hdr.is_upgrade(self.headers)
        self.response: web.StreamResponse | None = None

    async def read_body(self, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        async for chunk in self._request.content.iter_any():
            size += len(chunk)
            if size > limit:
                raise Refusal(413, f"request bodies over {limit // (1024 * 1024)} MiB are not "
                                   "accepted", reason="RequestEntityTooLarge")
            parts.append(chunk)
        return b"".join(parts)

    async def respond(self, status: int, headers: hdr.Headers, body: bytes) -> None:
        if self.response is not None and self.response.prepared:
            return  # a refusal after the head went out cannot be sent any more
        response = web.Response(status=status, headers=CIMultiDict(headers), body=body)
        self.response = response
        self._close_if_upgrade(response)
        await response.prepare(self._request)
        await response.write_eof()

    async def start(self, status: int, headers: hdr.Headers) -> None:
        response = web.StreamResponse(status=status, headers=CIMultiDict(headers))
        self.response = response
        self._close_if_upgrade(response)
        await response.prepare(self._request)

    def _close_if_upgrade(self, response: web.StreamResponse) -> None:
        """A request that asked to upgrade but got an ordinary reply ends its connection:
        the HTTP parser may already treat what follows as the upgraded protocol."""
        if self.is_upgrade or hdr.get(self.headers, "upgrade") is not None:
            response.force_close()

    async def write(self, chunk: bytes) -> None:
        assert self.response is not None
        await self.response.write(chunk)

    async def finish(self) -> None:
        assert self.response is not None
        await self.response.write_eof()

    @property
    def started(self) -> bool:
        return self.response is not None and self.response.prepared

    def abort(self) -> None:
        if self._request.transport is not None:
            self._request.transport.abort()

    async def relay(self, upstream: UpgradedStream, frames: FrameMasker | None,
                    recorder: StreamRecorder | None = None) -> int:
        if (hdr.get(self.headers, "upgrade") or "").lower() == "websocket":
            self.response, sent = await relay_websocket(self._request, upstream, frames,
                                                        recorder)
        else:
            spdy = ExecFilter(frames.feed, frames.flush) if frames is not None else None
            self.response, sent = await relay_raw(self._request, upstream, hdr.response_headers(
                upstream.headers) + [("Connection", "Upgrade"),
                                     ("Upgrade", hdr.get(upstream.headers, "upgrade") or "")],
                spdy)
        return sent


class ProxyServer:
    """Serves the pipeline over HTTPS on loopback."""

    def __init__(self, pipeline: Pipeline, ssl_context: ssl.SSLContext,
                 watchdog: SessionWatchdog | None = None) -> None:
        self.pipeline = pipeline
        # Every exchange is registered while it runs, so ending the grant can cut it.
        self.watchdog = watchdog or SessionWatchdog()
        self._ssl = ssl_context
        self._runner: web.ServerRunner | None = None
        self.port = 0

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        down = AiohttpDownstream(request)
        with self.watchdog.track(down):
            await self.pipeline.handle(down)
        if down.response is None:  # the client went away; nothing is listening for a reply
            return web.Response(status=499)
        return down.response

    async def start(self, host: str = "127.0.0.1", port: int = 0,
                    sock: socket.socket | None = None) -> str:
        """Start listening; return the server URL (``https://127.0.0.1:PORT``)."""
        server = web.Server(self._handle, handler_cancellation=True, logger=http_log,
                            access_log=None)
        self._runner = web.ServerRunner(server, shutdown_timeout=SHUTDOWN_TIMEOUT,
                                        handle_signals=False)
        await self._runner.setup()
        site: web.BaseSite
        if sock is not None:
            site = web.SockSite(self._runner, sock, ssl_context=self._ssl)
            self.port = sock.getsockname()[1]
        else:
            site = web.TCPSite(self._runner, host, port, ssl_context=self._ssl, backlog=256)
        await site.start()
        if sock is None:
            self.port = self._runner.addresses[0][1]
        return f"https://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
