"""The agent's side of an exec/attach/port-forward WebSocket, spoken with wsproto.

The handshake reply is kgate's: ``Sec-WebSocket-Accept`` from the agent's key and, of
upstream's reply, only the subprotocol it chose (and only if the agent offered it). Messages are
relayed whole in both directions, so the mask seam sees exec/attach output per channel: output
frames go through ``frames`` (held partial lines flushed after ``IDLE_FLUSH`` of upstream
silence, ``channels.pump_upstream``), the recorder sees the agent's input and the
masked output, pings from the agent are answered here, and a close from either side closes the
other (upstream's close code is passed on).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import struct
from typing import Protocol

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage

from kgate.proxy import headers as hdr
from kgate.proxy.channels import (
    MAX_MESSAGE,
    OP_BINARY,
    OP_CLOSE,
    OP_TEXT,
    ChannelCodec,
    encode_frame,
    first_done,
    pump_upstream,
)
from kgate.proxy.channels import Message as Channel
from kgate.proxy.engine import Frame, FrameMasker, StreamRecorder, UpgradedStream
from kgate.proxy.errors import Refusal
from kgate.proxy.lean import http1

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_VERSIONS = ("13", "8", "7")
#: How long kgate waits for the agent to answer its close frame before dropping the connection.
CLOSE_WAIT = 2.0
#: Close codes that may not be sent on the wire; replaced by 1000.
_LOCAL_ONLY = (1005, 1006, 1015)


class AgentStream(Protocol):
    """The agent's connection after the upgrade head: bytes in, bytes out."""

    async def read(self) -> bytes:
        """The next bytes from the agent; ``b""`` once it has closed."""
        ...

    async def send(self, data: bytes) -> None:
        """Write, waiting while the agent is behind; ``ConnectionError`` once it has gone."""
        ...


def handshake(headers: hdr.Headers, upstream_headers: hdr.Headers) -> bytes:
    """The 101 head for the agent, or ``Refusal(400)`` for a handshake that is not one."""
    key = hdr.get(headers, "sec-websocket-key") or ""
    try:
        valid_key = len(base64.b64decode(key, validate=True)) == 16
    except binascii.Error:
        valid_key = False
    if not valid_key or hdr.get(headers, "sec-websocket-version") not in _VERSIONS:
        raise Refusal(400, "the WebSocket handshake needs a Sec-WebSocket-Key and "
                           "Sec-WebSocket-Version: 13", reason="BadRequest")
    accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
    out = [("Upgrade", "websocket"), ("Connection", "upgrade"),
           ("Sec-WebSocket-Accept", accept)]
    protocol = hdr.get(upstream_headers, "sec-websocket-protocol") or ""
    offered = [p.strip() for k, v in headers if k.lower() == "sec-websocket-protocol"
               for p in v.split(",")]
    if protocol and protocol in offered:
        out.append(("Sec-WebSocket-Protocol", protocol))
    return http1.head(101, out)


async def relay_websocket(agent: AgentStream, head: bytes, protocol: str,
                          upstream: UpgradedStream, frames: FrameMasker | None,
                          recorder: StreamRecorder | None = None) -> int:
    """Send ``head`` (101) and relay messages until either side closes; bytes sent down."""
    await agent.send(head)
    ws = Connection(ConnectionType.SERVER)
    codec = ChannelCodec(protocol)
    sent = 0

    async def emit(opcode: int, payload: bytes) -> None:
        nonlocal sent
        if ws.state is not ConnectionState.OPEN:
            return
        sent += len(payload)
        event = (TextMessage(payload.decode("utf-8", "replace")) if opcode == OP_TEXT
                 else BytesMessage(payload))
        await agent.send(ws.send(event))

    async def emit_frames(pairs: list[Frame]) -> None:
        for channel, payload in pairs:
            if recorder is not None:
                recorder.output(channel, payload)  # after masking: what the agent sees
            await emit(*codec.join(channel, payload))

    async def close_agent(code: int) -> None:
        if ws.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            code = code if code in range(1000, 5000) and code not in _LOCAL_ONLY else 1000
            await agent.send(ws.send(CloseConnection(code=code)))

    async def agent_to_upstream() -> None:
        parts: list[bytes] = []
        size = 0
        closed = False
        while not closed and (data := await agent.read()):
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, Message):
                    text = isinstance(event, TextMessage)
                    piece = event.data.encode() if text else bytes(event.data)
                    size += len(piece)
                    if size > MAX_MESSAGE:
                        await close_agent(1009)
                        closed = True
                        break
                    parts.append(piece)
                    if event.message_finished:
                        opcode = OP_TEXT if text else OP_BINARY
                        payload = b"".join(parts)
                        parts, size = [], 0
                        if recorder is not None and (
                                split := codec.split(Channel(opcode, payload))) is not None:
                            recorder.input(*split)
                        await upstream.write(encode_frame(opcode, payload))
                elif isinstance(event, Ping) and ws.state is ConnectionState.OPEN:
                    await agent.send(ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    if ws.state is ConnectionState.OPEN:  # a protocol error, not a close frame
                        await close_agent(event.code)
                    closed = True
                    break
        with contextlib.suppress(OSError):
            await upstream.write(encode_frame(OP_CLOSE, struct.pack("!H", 1000)))

    async def upstream_to_agent() -> None:
        close_code = 1000
        try:
            close_code = await pump_upstream(upstream, frames, codec, emit, emit_frames)
        finally:
            if frames is not None and ws.state is ConnectionState.OPEN:
                await emit_frames(frames.flush())
            await close_agent(close_code)

    await first_done(agent_to_upstream(), upstream_to_agent())
    upstream.close()
    await _await_close(agent, ws)
    return sent


async def _await_close(agent: AgentStream, ws: Connection) -> None:
    """kgate closed first: give the agent ``CLOSE_WAIT`` to answer before the socket goes."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(CLOSE_WAIT):
            while ws.state is ConnectionState.LOCAL_CLOSING:
                data = await agent.read()
                if not data:
                    return
                ws.receive_data(data)
                for _ in ws.events():
                    pass
