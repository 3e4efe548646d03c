"""Pure pieces of the data path: header rules and the WebSocket/channel codecs."""

from __future__ import annotations

import asyncio
import base64
import struct

import pytest

from kgate.proxy import headers as hdr
from kgate.proxy.channels import (
    OP_BINARY,
    OP_PING,
    OP_TEXT,
    ChannelCodec,
    Message,
    MessageReader,
    _xor,
    encode_frame,
)


@pytest.mark.parametrize("accept,expected", [
    ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
     "g=meta.k8s.io,application/json",
     "application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=Table;v=v1beta1;"
     "g=meta.k8s.io, application/json"),
    ("application/vnd.kubernetes.protobuf,application/json",
     "application/json"),
    ("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io", "application/json"),
    ("application/cbor", "application/json"),
    ("*/*", "application/json"),
    (None, "application/json"),
    ("application/json;as=Table;v=v1;g=meta.k8s.io",
     "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"),
])
def test_accept_is_rewritten_to_json(accept: str | None, expected: str) -> None:
    assert hdr.json_accept(accept) == expected


def test_request_headers_drop_credentials_and_hop_by_hop() -> None:
    incoming = [("Authorization", "Bearer session"), ("Connection", "keep-alive, X-Private"),
                ("X-Private", "1"), ("Keep-Alive", "5"), ("Accept-Encoding", "gzip"),
                ("Accept", "application/vnd.kubernetes.protobuf"), ("Host", "127.0.0.1:1"),
                ("Content-Length", "3"), ("Content-Type", "application/json"),
                ("Kubectl-Command", "kubectl get"), ("Transfer-Encoding", "chunked"),
                ("Proxy-Authorization", "Basic x"), ("Cookie", "a=b"), ("TE", "trailers")]
    out = hdr.request_headers(incoming, rewrite_accept=True)
    assert out == [("Content-Type", "application/json"), ("Kubectl-Command", "kubectl get"),
                   ("Accept", "application/json")]
    kept_accept = hdr.request_headers([("Accept", "application/yaml")], rewrite_accept=False)
    assert kept_accept == [("Accept", "application/yaml")]


def test_upgrade_headers_keep_the_upgrade_only() -> None:
    out = hdr.upgrade_request_headers([
        ("Authorization", "Bearer s"), ("Connection", "Upgrade"), ("Upgrade", "websocket"),
        ("Sec-WebSocket-Key", "k"), ("Sec-WebSocket-Protocol", "v5.channel.k8s.io")])
    # Accept asks for JSON: a declined upgrade's error body must be maskable.
    assert out == [("Sec-WebSocket-Key", "k"), ("Sec-WebSocket-Protocol", "v5.channel.k8s.io"),
                   ("Accept", "application/json"), ("Connection", "Upgrade"),
                   ("Upgrade", "websocket")]


def test_plain_requests_carry_nothing_of_an_upgrade() -> None:
    out = hdr.request_headers([
        ("Connection", "keep-alive, Upgrade, HTTP2-Settings"), ("Connection", "Upgrade"),
        ("Upgrade", "h2c"), ("upgrade", "websocket"), ("HTTP2-Settings", "AAMAAABk"),
        ("Sec-WebSocket-Key", "k"), ("sec-websocket-protocol", "v5.channel.k8s.io"),
        ("Keep-Alive", "timeout=5"), ("X-Kept", "yes")], rewrite_accept=False)
    assert out == [("X-Kept", "yes")]


def test_response_headers() -> None:
    out = hdr.response_headers([("Content-Length", "9"), ("Content-Encoding", "gzip"),
                                ("Content-Type", "application/json"), ("Audit-Id", "x"),
                                ("Transfer-Encoding", "chunked")])
    assert out == [("Content-Type", "application/json"), ("Audit-Id", "x")]


class _Bytes:
    """A byte source in the shape of ``UpgradedStream.read`` (split into tiny reads)."""

    status, headers, body = 101, (), b""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def read(self, n: int) -> bytes:
        chunk, self.data = self.data[:3], self.data[3:]
        return chunk

    async def write(self, data: bytes) -> None:
        raise AssertionError("not written")

    def close(self) -> None:
        pass


def _server_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def test_read_message_reassembles_fragments_around_a_ping() -> None:
    big = bytes(range(256)) * 300
    wire = (_server_frame(OP_BINARY, b"\x01hel", fin=False) + _server_frame(OP_PING, b"p")
            + _server_frame(0, b"lo", fin=False) + _server_frame(0, big)
            + _server_frame(OP_TEXT, b"x"))
    reader = MessageReader(_Bytes(wire))

    async def read_all() -> list[Message]:
        return [await reader.next() for _ in range(3)]

    ping, data, text = asyncio.run(read_all())
    assert (ping.opcode, ping.payload) == (OP_PING, b"p")
    assert data.opcode == OP_BINARY and data.payload == b"\x01hello" + big
    assert (text.opcode, text.payload) == (OP_TEXT, b"x")


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536])
def test_client_frames_are_masked_and_sized(size: int) -> None:
    payload = b"a" * size
    frame = encode_frame(OP_BINARY, payload)
    assert frame[0] == 0x80 | OP_BINARY and frame[1] & 0x80
    offset = 2 + {126: 2, 127: 8}.get(frame[1] & 0x7F, 0)
    key = frame[offset:offset + 4]
    assert _xor(key, frame[offset + 4:]) == payload


def test_channel_codecs() -> None:
    binary = ChannelCodec("v5.channel.k8s.io")
    assert binary.split(Message(OP_BINARY, b"\x01out")) == (1, b"out")
    assert binary.join(2, b"err") == (OP_BINARY, b"\x02err")
    text = ChannelCodec("v4.base64.channel.k8s.io")
    encoded = b"1" + base64.b64encode(b"out")
    assert text.split(Message(OP_TEXT, encoded)) == (1, b"out")
    assert text.join(1, b"out") == (OP_TEXT, encoded)
    assert text.split(Message(OP_TEXT, b"x!!")) is None


@pytest.mark.parametrize("fields", [
    [("Host", "h"), ("Authorization", "Bearer t"), ("Accept", "application/json"),
     ("accept", "application/yaml")],
    [("Connection", "keep-alive, X-Drop"), ("X-Drop", "1"), ("Upgrade", "websocket"),
     ("connection", "Upgrade"), ("Sec-WebSocket-Key", "k"), ("Content-Type", "text/plain")],
    [("Transfer-Encoding", "chunked"), ("Content-Length", "3"), ("Set-Cookie", "a=b"),
     ("Content-Encoding", "gzip"), ("X-Keep", "yes")],
    [],
])
def test_indexed_header_fields_answer_exactly_like_a_plain_list(
        fields: list[tuple[str, str]]) -> None:
    indexed = hdr.Fields(fields)
    for name in ("accept", "ACCEPT", "connection", "upgrade", "x-drop", "content-length", "nope"):
        assert hdr.get(indexed, name) == hdr.get(fields, name)
    assert hdr.is_upgrade(indexed) == hdr.is_upgrade(fields)
    for rewrite in (True, False):
        assert hdr.request_headers(indexed, rewrite_accept=rewrite) == \
            hdr.request_headers(fields, rewrite_accept=rewrite)
    assert hdr.upgrade_request_headers(indexed) == hdr.upgrade_request_headers(fields)
    assert hdr.response_headers(indexed) == hdr.response_headers(fields)
