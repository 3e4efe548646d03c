"""The upstream client's request-head helpers (the broker's ``Authorization`` header, the
server's path prefix, a head that cannot smuggle) and upgrades (exec, attach, port-forward)
over a raw TLS connection of their own, outside the keep-alive pool.

For an upgrade kgate writes the request head itself and reads the reply head, so a non-101 reply
can be handed back to kubectl unchanged (its own WebSocket→SPDY fallback depends on that) and a
101 leaves a byte stream to relay. ``kgate.proxy.lean.client`` calls ``open_raw_upgrade`` with
its own timeouts.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from kgate.proxy import headers as hdr
from kgate.proxy.credentials import UpstreamAuth
from kgate.proxy.engine import UpstreamRequest
from kgate.proxy.errors import UpstreamError
from kgate.upstream_config import UpstreamSettings

MAX_HEAD = 64 * 1024
#: A declined upgrade's error body is read whole (it is masked like any reply); bounded.
MAX_DECLINED_BODY = 1024 * 1024


async def authorized_headers(auth: UpstreamAuth, name: str, headers: hdr.Headers
                             ) -> list[tuple[str, str]]:
    """``headers`` plus the broker's credential; a failure to get it is a 503 whose message
    never carries the plugin's or provider's text."""
    out = list(headers)
    try:
        authorization = await auth.authorization()
    except Exception as err:  # AuthError, or a plugin failure: never leak its text
        why = getattr(err, "message", None) or type(err).__name__
        hint = getattr(err, "hint", None)
        raise UpstreamError(503, f"could not obtain the credential for {name}: {why}"
                            + (f"; {hint}" if hint else "")) from None
    if authorization:
        out.append(("Authorization", authorization))
    return out


def server_prefix(settings: UpstreamSettings) -> str:
    """The path of the kubeconfig's server URL (``https://host/k8s/clusters/c-1``), which every
    request path goes under."""
    return urlsplit(settings.server).path.rstrip("/")


def encode_head(lines: list[str]) -> bytes:
    """A request head from its lines (each ending ``\r\n``, the last one blank). A line break
    inside a value or a space in the target would let a header smuggle another request line or
    header: refused, never sent."""
    text = "".join(lines)
    if text.count("\n") != len(lines) or text.count("\r") != len(lines) \
            or lines[0].count(" ") != 2:
        raise UpstreamError(502, "kgate refused to forward a request head with a line break "
                                 "in a header or a space in its target")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise UpstreamError(502, "kgate refused to forward a request head that is not "
                                 "latin-1") from None


def host_header(settings: UpstreamSettings) -> str:
    host, port = settings.host_port
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    return host if port in (443, 80) else f"{host}:{port}"


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


async def open_raw_upgrade(settings: UpstreamSettings, name: str, tls: ssl.SSLContext | None,
                           request: UpstreamRequest, headers: hdr.Headers, *,
                           connect_timeout: float, head_timeout: float) -> RawUpgrade:
    """Send an upgrade request (``headers`` already carry the credential) on a fresh
    connection and read the reply head; a non-101 reply is read whole and its connection
    closed."""
    host, port = settings.host_port
    head = encode_head([
        f"{request.method} {server_prefix(settings)}{request.path_qs} HTTP/1.1\r\n",
        f"Host: {host_header(settings)}\r\n", *(f"{k}: {v}\r\n" for k, v in headers), "\r\n"])
    try:
        async with asyncio.timeout(connect_timeout):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=tls, limit=MAX_HEAD,
                server_hostname=(settings.tls_server_name or host) if tls else None)
    except TimeoutError as err:
        raise UpstreamError(504, f"connecting to the API server {name} timed out") from err
    except ssl.SSLError as err:
        raise UpstreamError(502, f"TLS with the API server {name} failed: "
                                 f"{err.reason}") from err
    except OSError as err:
        raise UpstreamError(503, f"the API server {name} is unreachable "
                                 f"({err.strerror or type(err).__name__})") from err
    writer.write(head)
    try:
        async with asyncio.timeout(head_timeout):
            await writer.drain()
            status, reply_headers = await read_head(reader)
            body = b"" if status == 101 else await read_body(reader, reply_headers)
    except TimeoutError as err:
        writer.close()
        raise UpstreamError(504, f"the API server {name} did not answer the upgrade "
                                 "in time") from err
    except (OSError, ValueError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError) as err:
        writer.close()
        raise UpstreamError(502, f"the API server {name} sent a bad upgrade reply "
                                 f"({type(err).__name__})") from err
    raw = RawUpgrade(status, reply_headers, reader, writer, body)
    if status != 101:
        raw.close()
    return raw


async def read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]]]:
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


async def read_body(reader: asyncio.StreamReader, headers: hdr.Headers) -> bytes:
    """A non-101 reply's body: Content-Length, chunked, or until the server closes; at most
    ``MAX_DECLINED_BODY`` (``ValueError`` beyond)."""
    if (hdr.get(headers, "transfer-encoding") or "").lower() == "chunked":
        parts: list[bytes] = []
        size_so_far = 0
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(parts)
            size_so_far += size
            if size_so_far > MAX_DECLINED_BODY:
                raise ValueError("declined upgrade body too large")
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = hdr.get(headers, "content-length")
    if length is not None:
        if int(length) > MAX_DECLINED_BODY:
            raise ValueError("declined upgrade body too large")
        return await reader.readexactly(int(length))
    return await reader.read(MAX_DECLINED_BODY)
