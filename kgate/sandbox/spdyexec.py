"""exec/attach over SPDY/3.1, as a kubelet speaks it to kubectl 1.29 and older.

kubectl opens one SPDY stream per channel (SYN_STREAM with ``streamtype: error|stdin|stdout|
stderr|resize``) and waits for each stream's SYN_REPLY; output goes as DATA frames on the stdout
and stderr streams, the exit status as a JSON ``Status`` on the error stream
(``v4.channel.k8s.io``), and FIN frames close them. ``SpdyChannels`` offers the same interface as
the WebSocket ``_Channels`` in ``streams``, so the built-in shell and attach run unchanged. The
frame parsing is kgate's own (``kgate.proxy.spdy``); here only the server's side is added:
replying to streams and writing frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import zlib
from typing import Any

import orjson
from aiohttp import web

from kgate.proxy.spdy import (
    CHANNELS,
    DICTIONARY,
    FLAG_FIN,
    SYN_REPLY,
    SYN_STREAM,
    FrameReader,
    HeaderDecoder,
    SpdyError,
    data_frame,
    header_block_of,
)

PROTOCOLS = ("v4.channel.k8s.io",)
STDIN, STDOUT, STDERR, ERROR = 0, 1, 2, 3
_READY_TIMEOUT = 10.0


class RawFeed:
    """A payload parser for aiohttp's server protocol that hands the bytes after the 101 to
    ``reader`` as they are: aiohttp would otherwise keep parsing them as HTTP."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()


def wants_spdy(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "spdy/3.1"


def offered_protocol(request: web.Request) -> str | None:
    offered = {p.strip() for v in request.headers.getall("X-Stream-Protocol-Version", [])
               for p in v.split(",")}
    return next((p for p in PROTOCOLS if p in offered), None)


def exit_status(exit_code: int, argv: list[str]) -> dict[str, Any]:
    """The ``Status`` a kubelet sends on the error channel when the command ends."""
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing "
                       f"command {argv}, exit code {exit_code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]}}


class SpdyChannels:
    """One exec/attach SPDY connection, server side (the ``_Channels`` interface)."""

    def __init__(self, response: web.StreamResponse, reader: asyncio.StreamReader,
                 transport: asyncio.Transport, tty: bool, expected: set[int]) -> None:
        self.ws = response          # what the route returns (name kept from the WebSocket side)
        self.tty = tty
        self.stdin_queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.closed = asyncio.Event()
        self._reader, self._transport = reader, transport
        self._frames, self._headers = FrameReader(), HeaderDecoder()
        self._compress = zlib.compressobj(zdict=DICTIONARY)
        self._streams: dict[int, int] = {}      # channel → stream id
        self._expected = expected
        self._ready = asyncio.Event()

    @classmethod
    async def open(cls, request: web.Request, protocol: str) -> SpdyChannels:
        response = web.StreamResponse(status=101, headers={
            "Connection": "Upgrade", "Upgrade": "SPDY/3.1",
            "X-Stream-Protocol-Version": protocol})
        await response.prepare(request)
        transport, proto = request.transport, request.protocol
        assert transport is not None and proto is not None
        reader = asyncio.StreamReader(limit=1 << 20)
        reader.set_transport(transport)
        proto.set_parser(RawFeed(reader))  # type: ignore[arg-type]
        q = request.query
        tty = q.get("tty", "false").lower() in ("true", "1")
        expected = {ERROR}
        for name, channel in (("stdin", STDIN), ("stdout", STDOUT), ("stderr", STDERR)):
            if q.get(name, "false").lower() in ("true", "1"):
                expected.add(channel)
        if tty:
            expected.discard(STDERR)
        return cls(response, reader, transport, tty, expected)

    async def read_loop(self) -> None:
        """Answer each stream kubectl opens; feed stdin; end on FIN, EOF or a bad frame."""
        try:
            while chunk := await self._reader.read(65536):
                for frame in self._frames.feed(chunk):
                    self._on_frame(frame.kind, frame.flags, frame.stream_id, frame)
        except (SpdyError, ConnectionError):
            pass
        finally:
            await self.stdin_queue.put(b"")
            self.closed.set()
            self._ready.set()

    def _on_frame(self, kind: int, flags: int, stream_id: int, frame: Any) -> None:
        block = header_block_of(frame)
        pairs = self._headers.decode(block) if block is not None else []
        if kind == SYN_STREAM:
            stream_type = next((v for k, v in pairs if k == "streamtype"), "")
            channel = CHANNELS.get(stream_type)
            if channel is not None:
                self._streams[channel] = stream_id
            self._write(self._control(SYN_REPLY, struct.pack("!I", stream_id)
                                      + self._block([])))
            if self._expected <= set(self._streams):
                self._ready.set()
        elif kind == 0 and stream_id == self._streams.get(STDIN):
            if frame.data:
                self.stdin_queue.put_nowait(frame.data)
            if flags & FLAG_FIN:
                self.stdin_queue.put_nowait(b"")

    def _block(self, pairs: list[tuple[str, str]]) -> bytes:
        raw = struct.pack("!I", len(pairs)) + b"".join(
            struct.pack("!I", len(k)) + k.encode() + struct.pack("!I", len(v)) + v.encode()
            for k, v in pairs)
        return self._compress.compress(raw) + self._compress.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def _control(kind: int, body: bytes) -> bytes:
        return struct.pack("!II", 0x80030000 | kind, len(body)) + body

    def _write(self, data: bytes) -> None:
        if not self._transport.is_closing():
            self._transport.write(data)

    async def _stream_for(self, channel: int) -> int | None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ready.wait(), _READY_TIMEOUT)
        return self._streams.get(channel)

    async def send(self, channel: int, data: bytes) -> None:
        if not data:
            return
        if self.tty and channel in (STDOUT, STDERR):
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            channel = STDOUT
        stream = await self._stream_for(channel)
        if stream is not None:
            self._write(data_frame(stream, data))

    async def stdout(self, data: bytes) -> None:
        await self.send(STDOUT, data)

    async def stderr(self, data: bytes) -> None:
        await self.send(STDERR, data)

    async def finish(self, exit_code: int, argv: list[str]) -> None:
        body = exit_status(exit_code, argv)
        error = await self._stream_for(ERROR)
        for channel in (STDOUT, STDERR):
            stream = self._streams.get(channel)
            if stream is not None:
                self._write(data_frame(stream, b"", FLAG_FIN))
        if error is not None:
            self._write(data_frame(error, orjson.dumps(body)))
            self._write(data_frame(error, b"", FLAG_FIN))
        await asyncio.sleep(0.05)   # let kubectl read the status before the connection closes
        self._transport.close()
