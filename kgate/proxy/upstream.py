"""The upstream client: one connection pool to the real API server, the broker's credential
(an injected ``UpstreamAuth``: kubeconfig or OIDC), and errors mapped to what the agent should
see (502 bad reply, 503 unreachable, 504 timeout).

Plain requests go through an aiohttp ``ClientSession`` (bodies decompressed as they stream).
Upgrades (exec, attach, port-forward) use a raw TLS connection (``lean.upstream_raw``, shared
with the lean engine's client).
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
from kgate.proxy.lean.upstream_raw import RawUpgrade, authorized_headers, open_raw_upgrade
from kgate.upstream_config import UpstreamSettings

CONNECT_TIMEOUT = 10.0
HEAD_TIMEOUT = 120.0


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
        return await authorized_headers(self.credentials, self.name, headers)

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
        tls: ssl.SSLContext | None = None
        if self.settings.server.startswith("https"):
            tls = await self.credentials.ssl_context()
        return await open_raw_upgrade(self.settings, self.name, tls, request, headers,
                                      connect_timeout=CONNECT_TIMEOUT,
                                      head_timeout=HEAD_TIMEOUT)
