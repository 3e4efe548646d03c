"""The lean engine's upstream client (``kgate.proxy.lean.client``) against the real sandbox and
against small hostile TLS servers on loopback.

A reply that breaks (truncated, ambiguous framing, a head without end) must surface as an
``UpstreamError`` — never as a short body that looks complete — and must not leave its
connection in the pool, where the next request would read its leftovers.
"""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
import pytest

from kgate.kubeconfig import write_kubeconfig
from kgate.pki import issue_server_identity
from kgate.proxy import headers as hdr
from kgate.proxy.engine import Upstream, UpstreamRequest
from kgate.proxy.errors import UpstreamError
from kgate.proxy.lean import client as lean_client
from kgate.proxy.lean.client import LeanUpstream
from kgate.sandbox.runner import SandboxOptions, sandbox_in_thread
from kgate.upstream_config import UpstreamSettings, load_upstream

JSON = (("Accept", "application/json"),)
#: What a hostile server's script does with one request: write a reply, say whether to keep
#: the connection (False: close it).
Script = Callable[["Hostile", bytes, asyncio.StreamWriter], Awaitable[bool]]


class Hostile:
    """A TLS server on loopback that answers each request as its test's ``script`` says and
    counts connections (made, still open) and requests."""

    def __init__(self, tmp_path: Path, script: Script) -> None:
        identity = issue_server_identity(tmp_path / "hostile")
        self.context = identity.server_context(tmp_path / "hostile" / "srv")
        self.ca_pem = identity.ca_pem
        self.script = script
        self.connections = 0
        self.open = 0
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []
        self.sent = 0  # bytes a streaming script got past drain()
        self.tmp_path = tmp_path
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
                    return
                length = hdr.get(_parse_headers(head), "content-length")
                self.bodies.append(await reader.readexactly(int(length)) if length else b"")
                self.heads.append(head)
                if not await self.script(self, head, writer):
                    return
        except (ConnectionError, ssl.SSLError):
            return
        finally:
            self.open -= 1
            writer.close()

    def settings(self, prefix: str = "") -> UpstreamSettings:
        kubeconfig = write_kubeconfig(self.tmp_path / "kc" / f"{self.port}",
                                      server=f"https://127.0.0.1:{self.port}{prefix}",
                                      ca_pem=self.ca_pem, token="broker-token")
        return load_upstream(kubeconfig)


def _parse_headers(head: bytes) -> list[tuple[str, str]]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines if line)]


@asynccontextmanager
async def hostile(tmp_path: Path, script: Script) -> AsyncIterator[tuple[Hostile, LeanUpstream]]:
    server = Hostile(tmp_path, script)
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=server.context)
    server.port = listener.sockets[0].getsockname()[1]
    client = LeanUpstream(server.settings())
    try:
        yield server, client
    finally:
        await client.close()
        listener.close()


def reply(body: bytes, *extra: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", "Content-Type: application/json",
            f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def ok_script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
    path = head.split(b" ")[1]
    writer.write(reply(b'{"path":"' + path + b'"}'))
    await writer.drain()
    return True


async def get(client: Upstream, path: str = "/api/v1/namespaces", limit: int = 1 << 20
              ) -> tuple[int, bytes]:
    response = await client.send(UpstreamRequest("GET", path, JSON))
    try:
        return response.status, await response.read(limit)
    finally:
        response.close()


async def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)


# -- the sandbox -----------------------------------------------------------------------------


def test_sandbox_create_list_watch_through_one_pool(tmp_path: Path) -> None:
    with sandbox_in_thread(SandboxOptions(state_dir=tmp_path / "s")) as sandbox:
        settings = load_upstream(sandbox.write_kubeconfig(tmp_path / "kc"))

        async def go() -> None:
            client = LeanUpstream(settings)
            try:
                watch = await client.send(UpstreamRequest(
                    "GET", "/api/v1/namespaces/default/configmaps?watch=1", JSON))
                assert watch.status == 200
                events = watch.chunks()
                for i in range(3):
                    cm = {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": f"cm{i}"}, "data": {"k": "v" * 10_000}}
                    created = await client.send(UpstreamRequest(
                        "POST", "/api/v1/namespaces/default/configmaps",
                        (*JSON, ("Content-Type", "application/json")), orjson.dumps(cm)))
                    assert created.status == 201, await created.read(1 << 20)
                    created.close()
                seen = b""
                while seen.count(b'"ADDED"') < 3:
                    seen += await asyncio.wait_for(anext(events), 10)
                watch.close()
                status, body = await get(client, "/api/v1/namespaces/default/configmaps")
                assert status == 200
                assert [i["metadata"]["name"] for i in orjson.loads(body)["items"]] == \
                    ["cm0", "cm1", "cm2"]
            finally:
                await client.close()

        asyncio.run(go())


# -- framing -----------------------------------------------------------------------------------


def test_content_length_and_chunked_together_is_a_502(tmp_path: Path) -> None:
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b'5\r\n{"a":\r\n0\r\n\r\n')
        await writer.drain()
        return True

    async def go() -> None:
        async with hostile(tmp_path, script) as (_, client):
            with pytest.raises(UpstreamError) as info:
                await get(client)
            assert info.value.code == 502 and "\n" not in info.value.message
            assert '{"a"' not in info.value.message

    asyncio.run(go())


@pytest.mark.parametrize("cut", [
    b"Transfer-Encoding: chunked\r\n\r\n10\r\n{\"items\":[1,2,3]\r\n",  # chunk stream unfinished
    b"Transfer-Encoding: chunked\r\n\r\n10\r\n{\"items\":[1,",         # inside a chunk
    b"Content-Length: 100\r\n\r\n{\"items\":[1,2,3]}",                 # short of its length
])
def test_a_truncated_body_breaks_the_stream(tmp_path: Path, cut: bytes) -> None:
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + cut)
        await writer.drain()
        return False  # and close

    async def go() -> None:
        async with hostile(tmp_path, script) as (_, client):
            with pytest.raises(UpstreamError) as info:
                await get(client)
            assert info.value.code == 502 and "broke off" in info.value.message
            response = await client.send(UpstreamRequest("GET", "/x", JSON))
            got = b""
            with pytest.raises(UpstreamError):
                async for chunk in response.chunks():
                    got += chunk
            response.close()
            assert b"items" in got  # what came is passed on, then the stream breaks

    asyncio.run(go())


def test_a_close_delimited_body_is_complete_and_its_connection_not_reused(
        tmp_path: Path) -> None:
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
                     b'{"until":"close"}')
        await writer.drain()
        return False

    async def go() -> None:
        async with hostile(tmp_path, script) as (server, client):
            assert await get(client) == (200, b'{"until":"close"}')
            assert await get(client) == (200, b'{"until":"close"}')
            assert server.connections == 2

    asyncio.run(go())


def test_a_huge_head_is_a_502(tmp_path: Path) -> None:
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for i in range(10_000):  # 1 MB of headers, and never an end
            writer.write(f"X-Filler-{i}: {'x' * 90}\r\n".encode())
            await writer.drain()
        return False

    async def go() -> None:
        async with hostile(tmp_path, script) as (_, client):
            with pytest.raises(UpstreamError) as info:
                await get(client)
            assert info.value.code == 502 and "64 KiB" in info.value.message
            assert "X-Filler" not in info.value.message

    asyncio.run(go())


def test_a_single_endless_header_line_is_a_502(tmp_path: Path) -> None:
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nX-Endless: ")
        for _ in range(1000):
            writer.write(b"y" * 1024)
            await writer.drain()
        return False

    async def go() -> None:
        async with hostile(tmp_path, script) as (_, client):
            with pytest.raises(UpstreamError) as info:
                await get(client)
            assert info.value.code == 502

    asyncio.run(go())


def test_a_slow_head_is_a_504(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lean_client, "HEAD_TIMEOUT", 0.3)  # the real bound is 120 s

    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(30)
        return False

    async def go() -> None:
        async with hostile(tmp_path, script) as (_, client):
            with pytest.raises(UpstreamError) as info:
                await get(client)
            assert info.value.code == 504 and "did not answer" in info.value.message

    asyncio.run(go())


def test_a_slow_body_is_not_timed_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Watches run for hours: only the head has a deadline.
    monkeypatch.setattr(lean_client, "HEAD_TIMEOUT", 0.3)

    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for part in (b'{"a":', b"1}"):
            await asyncio.sleep(0.5)
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def go() -> None:
        async with hostile(tmp_path, script) as (_, client):
            assert await get(client) == (200, b'{"a":1}')

    asyncio.run(go())


# -- the pool ----------------------------------------------------------------------------------


def test_keep_alive_connections_are_reused(tmp_path: Path) -> None:
    async def go() -> None:
        async with hostile(tmp_path, ok_script) as (server, client):
            for i in range(5):
                assert await get(client, f"/n/{i}") == (200, b'{"path":"/n/%d"}' % i)
            assert server.connections == 1

    asyncio.run(go())


def test_a_pooled_connection_the_server_closed_is_replaced(tmp_path: Path) -> None:
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        await ok_script(server, head, writer)
        return False  # close right after a keep-alive reply

    async def go() -> None:
        async with hostile(tmp_path, script) as (server, client):
            for i in range(3):
                assert await get(client, f"/n/{i}") == (200, b'{"path":"/n/%d"}' % i)
                await asyncio.sleep(0.05)
            assert server.connections == 3

    asyncio.run(go())


def test_a_stale_connection_replays_get_once_but_never_post(tmp_path: Path) -> None:
    # The race a pool cannot see coming: the server reads the request, then closes without a
    # byte. A GET is sent again on a new connection; a POST is not (it may have taken effect).
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        if len(server.heads) == 1:
            await ok_script(server, head, writer)
            return True
        if server.connections == 1:
            return False  # the first connection dies on its second request
        await ok_script(server, head, writer)
        return True

    async def go(method: str) -> None:
        async with hostile(tmp_path / method, script) as (server, client):
            assert (await get(client, "/first"))[0] == 200
            request = UpstreamRequest(method, "/second", JSON, b"{}" if method == "POST"
                                      else None)
            if method == "GET":
                assert await get(client, "/second") == (200, b'{"path":"/second"}')
                assert server.connections == 2
            else:
                with pytest.raises(UpstreamError) as info:
                    await client.send(request)
                assert info.value.code == 502
                assert server.connections == 1
            assert [h.split(b" ")[1] for h in server.heads].count(b"/second") == \
                (2 if method == "GET" else 1)

    asyncio.run(go("GET"))
    asyncio.run(go("POST"))


def test_a_reply_abandoned_mid_stream_does_not_poison_the_pool(tmp_path: Path) -> None:
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        if b"watch" in head:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            for i in range(3):
                event = b'{"type":"ADDED","n":%d}\n' % i
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()
            while True:  # a watch that goes on (until the client leaves)
                await asyncio.sleep(0.05)
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                await writer.drain()
        await ok_script(server, head, writer)
        return True

    async def go() -> None:
        async with hostile(tmp_path, script) as (server, client):
            watch = await client.send(UpstreamRequest("GET", "/w?watch=1", JSON))
            first = await anext(watch.chunks())
            assert first.startswith(b'{"type":"ADDED"')
            watch.close()
            for _ in range(2):
                assert await get(client, "/after") == (200, b'{"path":"/after"}')
            assert server.connections == 2
            await until(lambda: server.open == 1)  # the abandoned watch's connection is gone

    asyncio.run(go())


def test_bytes_after_a_reply_drop_the_connection(tmp_path: Path) -> None:
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(b'{"ok":1}') + reply(b'{"smuggled":1}'))
        await writer.drain()
        return True

    async def go() -> None:
        async with hostile(tmp_path, script) as (server, client):
            assert await get(client) == (200, b'{"ok":1}')
            await asyncio.sleep(0.05)
            assert await get(client) == (200, b'{"ok":1}')
            assert server.connections == 2

    asyncio.run(go())


def test_the_idle_pool_is_bounded(tmp_path: Path) -> None:
    many = lean_client.MAX_IDLE + 8
    started = asyncio.Event()

    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        if len(server.heads) == many:
            started.set()
        await started.wait()  # all requests in flight at once: one connection each
        return await ok_script(server, head, writer)

    async def go() -> None:
        async with hostile(tmp_path, script) as (server, client):
            results = await asyncio.gather(*(get(client, f"/{i}") for i in range(many)))
            assert all(status == 200 for status, _ in results)
            assert server.connections == many
            await until(lambda: server.open <= lean_client.MAX_IDLE)
            await asyncio.sleep(0.1)
            assert server.open == lean_client.MAX_IDLE

    asyncio.run(go())


def test_a_slow_reader_holds_back_a_fast_stream(tmp_path: Path) -> None:
    total = 256 * 1024 * 1024
    piece = b"x" * 65536

    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        while server.sent < total:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            server.sent += len(piece)
        return False

    async def go() -> None:
        async with hostile(tmp_path, script) as (server, client):
            response = await client.send(UpstreamRequest("GET", "/logs?follow=1", JSON))
            stream = response.chunks()
            await anext(stream)
            before = -1
            while before != server.sent:  # until the server is stuck on a full socket
                before = server.sent
                await asyncio.sleep(0.3)
            # TCP buffers on both sides plus kgate's bounded queue: megabytes, not 256 MB.
            assert server.sent < 32 * 1024 * 1024
            stalled, got = server.sent, 0
            async for chunk in stream:  # and the stream still flows once read
                got += len(chunk)
                if got > stalled + 8 * 1024 * 1024:
                    break
            assert server.sent > stalled
            response.close()

    asyncio.run(go())


# -- encodings and errors ----------------------------------------------------------------------


def test_gzip_replies_are_decompressed(tmp_path: Path) -> None:
    body = orjson.dumps({"items": [{"n": i, "pad": "p" * 100} for i in range(5000)]})

    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(gzip.compress(body), "Content-Encoding: gzip"))
        await writer.drain()
        return True

    async def go() -> None:
        async with hostile(tmp_path, script) as (server, client):
            response = await client.send(UpstreamRequest("GET", "/big", JSON))
            assert await response.read(1 << 24) == body
            response.close()
            assert hdr.get(hdr.response_headers(response.headers), "content-encoding") is None
            assert b"accept-encoding: gzip" in server.heads[0].lower()

    asyncio.run(go())


@pytest.mark.parametrize("compressed", [
    gzip.compress(b'{"items":[1,2,3]}' * 100)[:-20],       # cut before its end
    b"\x1f\x8b\x08\x00not really gzip at all",               # corrupt
    gzip.compress(b'{"a":1}') + b"trailing garbage",         # data past the end
])
def test_bad_gzip_is_a_502(tmp_path: Path, compressed: bytes) -> None:
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(compressed, "Content-Encoding: gzip"))
        await writer.drain()
        return True

    async def go() -> None:
        async with hostile(tmp_path, script) as (_, client):
            with pytest.raises(UpstreamError) as info:
                await get(client)
            assert info.value.code == 502

    asyncio.run(go())


def test_a_gzip_bomb_stops_at_the_limit(tmp_path: Path) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 KB that inflate to 64 MB

    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(bomb, "Content-Encoding: gzip"))
        await writer.drain()
        return True

    async def go() -> None:
        async with hostile(tmp_path, script) as (_, client):
            with pytest.raises(UpstreamError) as info:
                await get(client, limit=1 << 20)
            assert info.value.code == 502 and "larger than 1 MiB" in info.value.message

    asyncio.run(go())


def test_an_unasked_encoding_is_a_502(tmp_path: Path) -> None:
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(b"\x00\x01", "Content-Encoding: br"))
        await writer.drain()
        return True

    async def go() -> None:
        async with hostile(tmp_path, script) as (_, client):
            with pytest.raises(UpstreamError) as info:
                await get(client)
            assert info.value.code == 502 and "encoding" in info.value.message

    asyncio.run(go())


def test_a_101_to_a_plain_request_is_not_reused(tmp_path: Path) -> None:
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        if len(server.heads) == 1:
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
                         b"Connection: Upgrade\r\n\r\nraw bytes that are not HTTP")
            await writer.drain()
            return True
        return await ok_script(server, head, writer)

    async def go() -> None:
        async with hostile(tmp_path, script) as (server, client):
            response = await client.send(UpstreamRequest("GET", "/up", JSON))
            assert response.status == 101  # the pipeline refuses any 1xx
            response.close()
            assert await get(client, "/next") == (200, b'{"path":"/next"}')
            assert server.connections == 2

    asyncio.run(go())


def test_a_head_request_has_no_body(tmp_path: Path) -> None:
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        if head.startswith(b"HEAD"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            await writer.drain()
            return True
        return await ok_script(server, head, writer)

    async def go() -> None:
        async with hostile(tmp_path, script) as (_, client):
            response = await client.send(UpstreamRequest("HEAD", "/h", JSON))
            assert response.status == 200 and await response.read(1 << 20) == b""
            response.close()
            assert await get(client, "/next") == (200, b'{"path":"/next"}')

    asyncio.run(go())


def test_request_bodies_go_with_their_length_and_the_broker_credential(tmp_path: Path) -> None:
    async def go() -> None:
        async with hostile(tmp_path, ok_script) as (server, client):
            response = await client.send(UpstreamRequest(
                "PATCH", "/p", (("Content-Type", "application/merge-patch+json"),),
                b'{"a":1}'))
            response.close()
            head = _parse_headers(server.heads[0])
            assert hdr.get(head, "content-length") == "7" and server.bodies[0] == b'{"a":1}'
            assert hdr.get(head, "authorization") == "Bearer broker-token"
            assert hdr.get(head, "host") == f"127.0.0.1:{server.port}"

    asyncio.run(go())


def test_a_line_break_in_a_header_is_never_sent(tmp_path: Path) -> None:
    async def go() -> None:
        async with hostile(tmp_path, ok_script) as (server, client):
            with pytest.raises(UpstreamError):
                await client.send(UpstreamRequest(
                    "GET", "/x", (("X-Evil", "a\r\nAuthorization: Bearer stolen"),)))
            with pytest.raises(UpstreamError):
                await client.send(UpstreamRequest("GET", "/x HTTP/1.1\r\nX: y", ()))
            assert server.heads == []

    asyncio.run(go())


def test_unreachable_and_untrusted_upstreams(tmp_path: Path) -> None:
    async def go() -> None:
        async with hostile(tmp_path, ok_script) as (server, client):
            port = server.port
        kc = write_kubeconfig(tmp_path / "gone", server=f"https://127.0.0.1:{port}",
                              ca_pem=server.ca_pem, token="t")
        with pytest.raises(UpstreamError) as info:
            await get(LeanUpstream(load_upstream(kc)))
        assert info.value.code == 503 and "unreachable" in info.value.message
        other_ca = issue_server_identity(tmp_path / "other").ca_pem
        async with hostile(tmp_path / "b", ok_script) as (server, _):
            kc = write_kubeconfig(tmp_path / "untrusted", ca_pem=other_ca, token="t",
                                  server=f"https://127.0.0.1:{server.port}")
            with pytest.raises(UpstreamError) as info:
                await get(LeanUpstream(load_upstream(kc)))
            assert info.value.code == 502 and "does not trust" in info.value.message

    asyncio.run(go())


def test_closing_the_client_ends_a_streaming_reply(tmp_path: Path) -> None:
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n")
        await writer.drain()
        await asyncio.sleep(30)
        return False

    async def go() -> None:
        async with hostile(tmp_path, script) as (_, client):
            response = await client.send(UpstreamRequest("GET", "/w?watch=1", JSON))
            stream = response.chunks()
            assert await anext(stream) == b'{"a":'
            await client.close()  # the proxy stops
            with pytest.raises(UpstreamError):
                await asyncio.wait_for(anext(stream), 5)

    asyncio.run(go())


def test_an_interim_reply_is_skipped(tmp_path: Path) -> None:
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n")
        return await ok_script(server, head, writer)

    async def go() -> None:
        async with hostile(tmp_path, script) as (server, client):
            for _ in range(2):
                response = await client.send(UpstreamRequest("POST", "/p", JSON, b"{}"))
                assert response.status == 200 and hdr.get(response.headers, "link") is None
                assert await response.read(1 << 20) == b'{"path":"/p"}'
                response.close()
            assert server.connections == 1

    asyncio.run(go())


def test_the_server_url_path_prefixes_every_request(tmp_path: Path) -> None:
    # Rancher-style kubeconfigs: https://host/k8s/clusters/c-1
    async def script(server: Hostile, head: bytes, writer: asyncio.StreamWriter) -> bool:
        if b"upgrade: spdy/3.1" in head.lower():
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 2\r\n\r\n{}")
            await writer.drain()
            return False
        return await ok_script(server, head, writer)

    async def go() -> None:
        async with hostile(tmp_path, script) as (server, _):
            client = LeanUpstream(server.settings("/k8s/clusters/c-1/"))
            assert await get(client, "/api") == (200, b'{"path":"/k8s/clusters/c-1/api"}')
            stream = await client.open_upgrade(UpstreamRequest(
                "POST", "/api/v1/namespaces/d/pods/p/exec",
                (("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"))))
            assert stream.status == 400 and stream.body == b"{}"
            assert server.heads[-1].startswith(b"POST /k8s/clusters/c-1/api/v1/namespaces/d/")
            with pytest.raises(UpstreamError):
                await client.open_upgrade(UpstreamRequest(
                    "POST", "/api/v1/x", (("Upgrade", "SPDY/3.1\r\nX-Smuggled: 1"),)))
            assert len(server.heads) == 2
            await client.close()

    asyncio.run(go())
