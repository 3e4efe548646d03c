"""The WebSocket relay's pure parts: the RFC 6455 client codec spoken to upstream, and the
channel framing of exec/attach messages. No sockets, no server library.

Byte 0 of a binary channel message is the channel (0 stdin, 1 stdout, 2 stderr, 3 error,
4 resize, 255 close); the ``base64.*`` protocols send the channel as an ASCII digit and base64
text. ``first_done`` runs the two directions of a relay and ends both when one ends.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kgate.proxy.engine import Frame, FrameMasker, UpgradedStream

MAX_MESSAGE = 64 * 1024 * 1024
CHUNK = 64 * 1024
IDLE_FLUSH = 0.05  # seconds of upstream silence before held exec output is flushed
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


# ---------------------------------------------------------------- RFC 6455, client side

def _xor(key: bytes, data: bytes) -> bytes:
    n = len(data)
    if not n:
        return data
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(
        n, "little")


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked frame (clients must mask what they send)."""
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    key = os.urandom(4)
    return head + key + _xor(key, payload)


@dataclass
class Message:
    opcode: int
    payload: bytes


class MessageReader:
    """Reads whole messages from the server side of a WebSocket.

    Control frames (ping, pong, close) may arrive between the fragments of a data message; they
    are returned at once while the partial message is kept for the next call.
    """

    def __init__(self, stream: UpgradedStream) -> None:
        self._stream = stream
        self._pending = bytearray()
        self._parts: list[bytes] = []
        self._size = 0
        self._opcode = OP_BINARY

    async def _take(self, n: int) -> bytes:
        while len(self._pending) < n:
            chunk = await self._stream.read(CHUNK)
            if not chunk:
                raise EOFError
            self._pending.extend(chunk)
        data = bytes(self._pending[:n])
        del self._pending[:n]
        return data

    async def next(self) -> Message:
        while True:
            b0, b1 = await self._take(2)
            fin, op = b0 & 0x80, b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await self._take(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await self._take(8))
            key = await self._take(4) if b1 & 0x80 else None
            if op < 8:
                self._size += n
                if self._size > MAX_MESSAGE:
                    raise ValueError("WebSocket message too large")
            payload = await self._take(n)
            if key:
                payload = _xor(key, payload)
            if op >= 8:
                return Message(op, payload)
            if op != OP_CONT:
                self._opcode = op
            self._parts.append(payload)
            if fin:
                message = Message(self._opcode, b"".join(self._parts))
                self._parts, self._size = [], 0
                return message


# ---------------------------------------------------------------- channel framing

class ChannelCodec:
    """Splits and rebuilds channel messages for the binary and ``base64.`` protocols."""

    def __init__(self, protocol: str) -> None:
        self.base64 = "base64" in protocol

    def split(self, msg: Message) -> tuple[int, bytes] | None:
        data = msg.payload
        if not data:
            return None
        if self.base64:
            try:
                return int(chr(data[0])), base64.b64decode(data[1:])
            except (ValueError, binascii.Error):
                return None
        return data[0], data[1:]

    def join(self, channel: int, payload: bytes) -> tuple[int, bytes]:
        if self.base64:
            return OP_TEXT, str(channel).encode() + base64.b64encode(payload)
        return OP_BINARY, bytes([channel]) + payload


async def pump_upstream(upstream: UpgradedStream, frames: FrameMasker | None,
                        codec: ChannelCodec,
                        emit: Callable[[int, bytes], Awaitable[None]],
                        emit_frames: Callable[[list[Frame]], Awaitable[None]]) -> int:
    """Relay upstream's WebSocket messages to the agent (through ``frames`` when it masks
    exec output) until upstream closes; return the close code the agent should get (1001 when
    upstream broke off). Both engines' relays use it; they differ only in the agent side."""
    reader = MessageReader(upstream)
    # One read at a time, never cancelled mid-frame: when upstream is quiet for IDLE_FLUSH the
    # masker's held partial lines (a shell prompt) go out while the read keeps waiting.
    pending: asyncio.Future[Message] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(reader.next())
            if frames is not None and not pending.done():
                done, _ = await asyncio.wait({pending}, timeout=IDLE_FLUSH)
                if not done:
                    await emit_frames(frames.flush())
            msg = await pending
            pending = None
            if msg.opcode == OP_PING:
                await upstream.write(encode_frame(OP_PONG, msg.payload))
                continue
            if msg.opcode == OP_PONG:
                continue
            if msg.opcode == OP_CLOSE:
                if len(msg.payload) >= 2:
                    return int(struct.unpack("!H", msg.payload[:2])[0])
                return 1000
            if frames is None:
                await emit(msg.opcode, msg.payload)
                continue
            parts = codec.split(msg)
            if parts is not None:
                await emit_frames(frames.feed(*parts))
    except (EOFError, ConnectionError, asyncio.IncompleteReadError):
        return 1001
    finally:
        if pending is not None:
            pending.cancel()


async def first_done(*coros: Awaitable[None]) -> None:
    """Run both directions; when one ends (or fails), cancel the other."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
