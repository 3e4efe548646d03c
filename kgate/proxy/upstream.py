"""The upstream client: one connection pool to the real API server, the broker's credential
(an injected ``UpstreamAuth``: kubeconfig or OIDC), and errors mapped to what the agent should
see (502 bad reply, 503 unreachable, 504 timeout).

Plain requests go through an aiohttp ``ClientSession`` (bodies decompressed as they stream).
Upgrades (exec, attach, port-forward) use a raw TLS connection: kgate writes the request head
itself and reads the reply head, so a non-101 reply can be handed back to kubectl unchanged (its
own WebSocket→SPDY fallback depends on that) and a 101 leaves a byte stream to relay.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from kgate.proxy import headers as hdr
from kgate.proxy.credentials import KubeconfigAuth, UpstreamAuth
from kgate.proxy.engine import UpstreamRequest
from kgate.proxy.errors import UpstreamError
from kgate.upstream_config import UpstreamSettings

CONNECT_TIMEOUT = 10.0
HEAD_TIMEOUT = 120.0
_MAX_HEAD = 64 * 1024
_CHUNK = 64 * 1024


class AiohttpResponse:
    """An upstream reply whose body is read lazily (chunk by chunk or whole)."""

    def __init__(self, resp: aiohttp.ClientResponse, name: str) -> None:
        self._resp = resp
        self._name = name
        self.status = resp.status
        self.headers: hdr.Headers = list(resp.headers.items())

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as err:
            raise UpstreamError(502, f"the reply from {self._name} broke off: "
                                     f"{type(err).__name__}") from err

    async def read(self, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        async for chunk in self.chunks():
            size += len(chunk)
            if size > limit:
                raise UpstreamError(502, f"the reply from {self._name} is larger than "
                                         f"{limit // (1024 * 1024)} MiB")
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        self._resp.close()


@dataclass
class RawUpgrade:
    """A raw upstream connection after the reply head of an upgrade request."""

    status: int
    headers: list[tuple[str, str]]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    body: bytes = b""

    async def read(self, n: int) -> bytes:
        return await self.reader.read(n)

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


@dataclass
class UpstreamClient:
    """Forwards requests to the API server named by ``settings`` with the broker's credential.

    ``auth`` defaults to the kubeconfig's own credential (``KubeconfigAuth``).
    """

    settings: UpstreamSettings
    auth: UpstreamAuth | None = None
    _session: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.auth is None:
            self.auth = KubeconfigAuth(self.settings)

    @property
    def credentials(self) -> UpstreamAuth:
        assert self.auth is not None  # set in __post_init__
        return self.auth

    @property
    def name(self) -> str:
        return f"{self.settings.server} (context {self.settings.context})"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100, enable_cleanup_closed=True),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT),
                auto_decompress=True, skip_auto_headers=("User-Agent",),
                cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _auth_headers(self, headers: hdr.Headers) -> list[tuple[str, str]]:
        out = list(headers)
        try:
            authorization = await self.credentials.authorization()
        except Exception as err:  # AuthError, or a plugin failure: never leak its text
            why = getattr(err, "message", None) or type(err).__name__
            hint = getattr(err, "hint", None)
            raise UpstreamError(503, f"could not obtain the credential for {self.name}: {why}"
                                + (f"; {hint}" if hint else "")) from None
        if authorization:
            out.append(("Authorization", authorization))
        return out

    async def send(self, request: UpstreamRequest) -> AiohttpResponse:
        headers = await self._auth_headers(request.headers)
        ctx = await self.credentials.ssl_context()
        url = self.settings.server + request.path_qs
        try:
            async with asyncio.timeout(HEAD_TIMEOUT):
                resp = await self._client().request(
                    request.method, URL(url, encoded=True), headers=headers,
                    data=request.body, ssl=ctx if url.startswith("https") else False,
                    server_hostname=self.settings.tls_server_name, allow_redirects=False)
        except TimeoutError as err:
            raise UpstreamError(504, f"the API server {self.name} did not answer within "
                                     f"{HEAD_TIMEOUT:.0f}s") from err
        except aiohttp.ClientConnectorCertificateError as err:
            raise UpstreamError(502, f"the API server {self.name} presented a certificate "
                                     f"kgate does not trust: {err.certificate_error}") from err
        except (aiohttp.ClientConnectorError, ConnectionError) as err:
            why = getattr(err, "strerror", None) or type(err).__name__
            raise UpstreamError(503, f"the API server {self.name} is unreachable ({why})"
                                ) from err
        except aiohttp.ClientError as err:
            raise UpstreamError(502, f"the API server {self.name} sent a bad reply "
                                     f"({type(err).__name__})") from err
        if resp.status == 401:
            self.credentials.on_unauthorized()
        return AiohttpResponse(resp, self.name)

    async def open_upgrade(self, request: UpstreamRequest) -> RawUpgrade:
        """Send an upgrade request on a fresh connection and read the reply head."""
        headers = await self._auth_headers(request.headers)
        host, port = self.settings.host_port
        tls: ssl.SSLContext | None = None
        if self.settings.server.startswith("https"):
            tls = await self.credentials.ssl_context()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=tls, limit=_MAX_HEAD,
                    server_hostname=(self.settings.tls_server_name or host) if tls else None)
        except TimeoutError as err:
            raise UpstreamError(504, f"connecting to the API server {self.name} timed out"
                                ) from err
        except ssl.SSLError as err:
            raise UpstreamError(502, f"TLS with the API server {self.name} failed: "
                                     f"{err.reason}") from err
        except OSError as err:
            raise UpstreamError(503, f"the API server {self.name} is unreachable "
                                     f"({err.strerror or type(err).__name__})") from err
        host_header = host if port in (443, 80) else f"{host}:{port}"
        head = [f"{request.method} {request.path_qs} HTTP/1.1", f"Host: {host_header}"]
        head += [f"{k}: {v}" for k, v in headers]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        try:
            async with asyncio.timeout(HEAD_TIMEOUT):
                await writer.drain()
                status, reply_headers = await _read_head(reader)
                body = b"" if status == 101 else await _read_body(reader, reply_headers)
        except TimeoutError as err:
            writer.close()
            raise UpstreamError(504, f"the API server {self.name} did not answer the upgrade "
                                     "in time") from err
        except (OSError, ValueError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError) as err:
            writer.close()
            raise UpstreamError(502, f"the API server {self.name} sent a bad upgrade reply "
                                     f"({type(err).__name__})") from err
        raw = RawUpgrade(status, reply_headers, reader, writer, body)
        if status != 101:
            raw.close()
        return raw


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError("not an HTTP/1.x reply")
    status = int(rest.split(" ", 1)[0])
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line:
            key, sep, value = line.partition(":")
            if not sep:
                raise ValueError("malformed header line")
            headers.append((key.strip(), value.strip()))
    return status, headers


async def _read_body(reader: asyncio.StreamReader, headers: hdr.Headers) -> bytes:
    """A non-101 reply's body: Content-Length, chunked, or until the server closes."""
    if (hdr.get(headers, "transfer-encoding") or "").lower() == "chunked":
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = hdr.get(headers, "content-length")
    if length is not None:
        return await reader.readexactly(int(length))
    return await reader.read(1024 * 1024)
