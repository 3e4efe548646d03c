"""Paths the sandbox cannot exercise, against a tiny raw TLS upstream on loopback: a SPDY/3.1
upgrade that upstream accepts is relayed byte for byte, and an upstream that never answers
becomes a 504 Status."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from kgate.kubeconfig import write_kubeconfig
from kgate.policy import guardrails_only
from kgate.proxy.lean import client as lean_client
from kgate.proxy.runner import ProxyOptions, ProxyThread, RunningProxy
from kgate.upstream_config import load_upstream
from tests.fixtures.tlsserver import LoopbackTLSServer

SILENT_PATH = "/api/v1/namespaces/default/configmaps/silent"
DECLINED_PASSWORD = "Dq7-declined-Pw-X1z"   # a fake, in upstream's refusal of an upgrade
DECLINED_JSON = ('{"kind":"Status","apiVersion":"v1","status":"Failure","code":400,'
                 f'"message":"upgrade refused: password={DECLINED_PASSWORD}"}}')
DECLINED_TEXT = f"upgrade refused: password={DECLINED_PASSWORD}\n"


class RawUpstream(LoopbackTLSServer):
    """Answers a SPDY upgrade with 101 then echoes; never answers ``SILENT_PATH``."""

    def __init__(self, state: Path) -> None:
        super().__init__(state)
        self.seen: list[str] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        self.seen.append(head)
        if SILENT_PATH in head.split("\r\n", 1)[0]:
            await asyncio.sleep(3600)
        if "/declined/" in head.split("\r\n", 1)[0] and "upgrade: websocket" in head.lower():
            as_json = "as=json" in head.split("\r\n", 1)[0]
            body = (DECLINED_JSON if as_json else DECLINED_TEXT).encode()
            ctype = "application/json" if as_json else "text/plain"
            writer.write(f"HTTP/1.1 400 Bad Request\r\nContent-Type: {ctype}\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            await writer.drain()
            writer.close()
            return
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                     b"Upgrade: SPDY/3.1\r\n\r\n")
        while data := await reader.read(4096):
            writer.write(data.upper())
            await writer.drain()
        writer.close()


@pytest.fixture
def raw_proxy(tmp_path: Path) -> Iterator[tuple[RawUpstream, RunningProxy]]:
    upstream = RawUpstream(tmp_path / "upstream")
    upstream.start()
    kubeconfig = write_kubeconfig(tmp_path / "user" / "config",
                                  server=f"https://127.0.0.1:{upstream.port}",
                                  ca_pem=upstream.identity.ca_pem, token="broker-token")
    thread = ProxyThread(ProxyOptions(upstream=load_upstream(kubeconfig), home=tmp_path / "home",
                                      policy=guardrails_only()))
    try:
        yield upstream, thread.start()
    finally:
        thread.stop()
        upstream.stop()


def _tls(proxy: RunningProxy) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cadata=proxy.ca_pem.decode())
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", proxy.port), timeout=10),
                           server_hostname="127.0.0.1")


def test_spdy_upgrade_is_relayed_byte_for_byte(raw_proxy: tuple[RawUpstream, RunningProxy]
                                               ) -> None:
    upstream, proxy = raw_proxy
    sock = _tls(proxy)
    sock.sendall(b"POST /api/v1/namespaces/default/pods/web/portforward HTTP/1.1\r\n"
                 b"Host: 127.0.0.1\r\nAuthorization: Bearer " + proxy.session.token.encode()
                 + b"\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                 b"X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n")
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(4096)
    head, _, rest = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    sock.sendall(b"raw spdy frames \x00\x01\x02")
    echoed = rest
    while len(echoed) < 19:
        echoed += sock.recv(4096)
    assert echoed == b"RAW SPDY FRAMES \x00\x01\x02"
    sock.close()
    # Upstream saw the broker's credential, never the session token.
    assert "Bearer broker-token" in upstream.seen[0]
    assert proxy.session.token not in upstream.seen[0]


def test_an_upstream_that_never_answers_is_a_504(raw_proxy: tuple[RawUpstream, RunningProxy],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _, proxy = raw_proxy
    monkeypatch.setattr(lean_client, "HEAD_TIMEOUT", 0.5)  # the real bound is 120 s
    conn = http.client.HTTPSConnection(
        "127.0.0.1", proxy.port, timeout=10,
        context=ssl.create_default_context(cadata=proxy.ca_pem.decode()))
    conn.request("GET", SILENT_PATH, headers={"Authorization": f"Bearer {proxy.session.token}"})
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    assert resp.status == 504 and body["reason"] == "Timeout"
    message = body["message"]
    assert message.startswith("kgate: the API server") and "did not answer" in message


@pytest.mark.parametrize("upgrade", ["SPDY/3.1", "websocket", "h2c"])
def test_only_exec_attach_portforward_reach_the_upgrade_path(
        raw_proxy: tuple[RawUpstream, RunningProxy], upgrade: str) -> None:
    # This upstream switches protocols for anything. A Secret read that asks to upgrade must
    # not be relayed: it goes upstream without upgrade headers, and a 101 there is refused.
    upstream, proxy = raw_proxy
    sock = _tls(proxy)
    sock.sendall(b"GET /api/v1/namespaces/default/secrets/db HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Authorization: Bearer " + proxy.session.token.encode()
                 + b"\r\nConnection: Upgrade\r\nUpgrade: " + upgrade.encode()
                 + b"\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    reply = b""
    while chunk := sock.recv(4096):
        reply += chunk
    sock.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 502"), head
    assert json.loads(body)["message"].startswith("kgate: the API server")
    seen = upstream.seen[-1].lower()
    assert "\r\nupgrade:" not in seen and "sec-websocket" not in seen


def _upgrade(proxy: RunningProxy, path: str, upgrade: str) -> tuple[bytes, bytes]:
    sock = _tls(proxy)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: Bearer {proxy.session.token}\r\nConnection: Upgrade\r\n"
                 f"Upgrade: {upgrade}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n\r\n".encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(4096)
    head, _, rest = reply.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        while chunk := sock.recv(4096):
            rest += chunk
    sock.close()
    return head, rest


def test_a_declined_upgrade_is_masked_and_the_spdy_fallback_still_works(
        raw_proxy: tuple[RawUpstream, RunningProxy]) -> None:
    _, proxy = raw_proxy
    base = "/api/v1/namespaces/default/pods/declined/portforward"
    head, body = _upgrade(proxy, base + "?as=json", "websocket")
    assert head.startswith(b"HTTP/1.1 400")
    assert DECLINED_PASSWORD.encode() not in body
    assert json.loads(body)["message"].startswith("upgrade refused: password=kgate:masked:")
    head, body = _upgrade(proxy, base + "?as=text", "websocket")
    assert head.startswith(b"HTTP/1.1 502") and DECLINED_PASSWORD.encode() not in body
    assert "cannot mask" in json.loads(body)["message"]
    # kubectl's next move after any non-101 reply: the same request as SPDY, relayed.
    head, _ = _upgrade(proxy, base, "SPDY/3.1")
    assert head.startswith(b"HTTP/1.1 101")
