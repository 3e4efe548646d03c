"""Relaying upgraded connections (exec, attach, port-forward) between the agent and upstream.

WebSocket (``v5.channel.k8s.io`` and older channel protocols, and port-forward's tunnels) is
relayed message by message so the mask seam sees exec/attach output per channel: byte 0 of a
binary message is the channel (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize, 255 close); the
``base64.*`` protocols send the channel as an ASCII digit and base64 text. The agent side is
aiohttp's WebSocket server; the upstream side is a raw TLS stream spoken with the small RFC 6455
client codec in ``channels.py`` (shared with the lean engine's relays). SPDY/3.1 is relayed as
raw bytes (port-forward) or, for exec/attach, through ``spdy.ExecFilter`` so stdout/stderr are
masked as on the WebSocket path. Either side closing closes the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

from aiohttp import WSMsgType, web

from kgate.proxy.channels import CHUNK as _CHUNK
from kgate.proxy.channels import (
    IDLE_FLUSH,
    MAX_MESSAGE,
    OP_BINARY,
    OP_CLOSE,
    OP_TEXT,
    ChannelCodec,
    Message,
    encode_frame,
    pump_upstream,
)
from kgate.proxy.channels import first_done as _first_done
from kgate.proxy.engine import FrameMasker, StreamRecorder, UpgradedStream
from kgate.proxy.spdy import ExecFilter, SpdyError


async def _send_down(ws: web.WebSocketResponse, opcode: int, payload: bytes) -> None:
    if opcode == OP_TEXT:
        await ws.send_str(payload.decode("utf-8", "replace"))
    else:
        await ws.send_bytes(payload)


async def relay_websocket(request: web.BaseRequest, upstream: UpgradedStream,
                          frames: FrameMasker | None, recorder: StreamRecorder | None = None
                          ) -> tuple[web.StreamResponse, int]:
    """Accept the agent's WebSocket with upstream's chosen protocol and relay messages.

    ``recorder`` sees the agent's stdin/resize frames and the output frames *after* masking.
    """
    protocol = next((v for k, v in upstream.headers if k.lower() == "sec-websocket-protocol"), "")
    ws = web.WebSocketResponse(protocols=(protocol,) if protocol else (), autoping=True,
                               max_msg_size=MAX_MESSAGE, autoclose=False)
    await ws.prepare(request)
    codec = ChannelCodec(protocol)
    sent = 0

    def record_input(opcode: int, data: bytes) -> None:
        if recorder is not None and (parts := codec.split(Message(opcode, data))) is not None:
            recorder.input(*parts)

    async def agent_to_upstream() -> None:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                record_input(OP_BINARY, msg.data)
                await upstream.write(encode_frame(OP_BINARY, msg.data))
            elif msg.type == WSMsgType.TEXT:
                record_input(OP_TEXT, msg.data.encode())
                await upstream.write(encode_frame(OP_TEXT, msg.data.encode()))
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                break
        with contextlib.suppress(OSError):
            await upstream.write(encode_frame(OP_CLOSE, struct.pack("!H", 1000)))

    async def emit(opcode: int, payload: bytes) -> None:
        nonlocal sent
        sent += len(payload)
        await _send_down(ws, opcode, payload)

    async def emit_frames(pairs: list[tuple[int, bytes]]) -> None:
        for channel, payload in pairs:
            if recorder is not None:
                recorder.output(channel, payload)  # after masking: what the agent sees
            await emit(*codec.join(channel, payload))

    async def upstream_to_agent() -> None:
        close_code = 1000
        try:
            close_code = await pump_upstream(upstream, frames, codec, emit, emit_frames)
        finally:
            if frames is not None and not ws.closed:
                await emit_frames(frames.flush())
            await ws.close(code=close_code if close_code in range(1000, 5000) else 1000)

    await _first_done(agent_to_upstream(), upstream_to_agent())
    upstream.close()
    if not ws.closed:
        await ws.close()
    return ws, sent


# ---------------------------------------------------------------- SPDY and other raw upgrades

class RawFeed:
    """A payload parser for aiohttp's server protocol that hands over raw bytes."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()


async def relay_raw(request: web.BaseRequest, upstream: UpgradedStream,
                    reply_headers: list[tuple[str, str]], spdy: ExecFilter | None = None
                    ) -> tuple[web.StreamResponse, int]:
    """Answer 101 with upstream's headers and copy bytes both ways until one side closes.

    With ``spdy`` (exec/attach from a SPDY-only kubectl) every byte goes through the SPDY
    filter: stdout/stderr masked, held output flushed when upstream is quiet, and a frame the
    filter cannot follow cuts both connections.
    """
    response = web.StreamResponse(status=101)
    for key, value in reply_headers:
        response.headers.add(key, value)
    await response.prepare(request)
    protocol, transport = request.protocol, request.transport
    assert protocol is not None and transport is not None
    reader = asyncio.StreamReader(limit=_CHUNK * 4)
    reader.set_transport(transport)
    protocol.set_parser(RawFeed(reader))  # type: ignore[arg-type]
    sent = 0

    async def agent_to_upstream() -> None:
        while chunk := await reader.read(_CHUNK):
            await upstream.write(spdy.from_client(chunk) if spdy is not None else chunk)

    async def down(chunk: bytes) -> None:
        nonlocal sent
        if chunk:
            sent += len(chunk)
            transport.write(chunk)
            await protocol._drain_helper()  # aiohttp's flow control for the server transport

    async def upstream_to_agent() -> None:
        pending: asyncio.Future[bytes] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(upstream.read(_CHUNK))
                if spdy is not None and not pending.done():
                    done, _ = await asyncio.wait({pending}, timeout=IDLE_FLUSH)
                    if not done:
                        await down(spdy.flush())
                chunk = await pending
                pending = None
                if not chunk:
                    break
                await down(spdy.from_server(chunk) if spdy is not None else chunk)
            if spdy is not None:
                await down(spdy.flush())
        finally:
            if pending is not None:
                pending.cancel()

    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, SpdyError):
        await _first_done(agent_to_upstream(), upstream_to_agent())
    upstream.close()
    protocol.force_close()
    return response, sent
