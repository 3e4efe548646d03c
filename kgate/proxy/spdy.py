"""SPDY/3.1 framing, as far as kgate needs it to mask exec/attach output from older kubectl.

kubectl 1.29 and older speak only SPDY/3.1 for exec and attach (``Upgrade: SPDY/3.1``, stream
protocol ``v4.channel.k8s.io``). The client opens one stream per channel with a SYN_STREAM whose
compressed header block names it (``streamtype: error|stdin|stdout|stderr|resize``); the server
answers with DATA frames on those streams. ``ExecFilter`` reads both directions frame by frame:
client bytes are passed on unchanged (but parsed, so header-block decompression stays in step and
the stream types are known); server DATA frames on stdout/stderr go through the same channel
masker as the WebSocket path and are re-framed; everything else is relayed as it came.

Fail closed: a malformed frame, a header block that does not decompress, a stream kgate has not
seen opened, or a frame over the size limit raises ``SpdyError``; the relay then cuts both
connections rather than pass a byte it could not judge.

Flow control: SPDY/3.1 counts DATA bytes per stream. Masking changes lengths, so the client's
WINDOW_UPDATEs no longer match what the server sent; kube-apiserver and kubectl (moby/spdystream)
do not block on the send window, so the frames are relayed unchanged (documented in
docs/compatibility.md).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kgate.proxy.engine import StreamRecorder

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9
FLAG_FIN = 0x01
_KNOWN_CONTROL = frozenset({SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY,
                            HEADERS, WINDOW_UPDATE})
MAX_FRAME = 1 << 24            # the 24-bit length field's limit
MAX_HEADER_BLOCK = 256 * 1024  # decompressed; a header block is a handful of short pairs
_HEAD = struct.Struct("!II")

# The zlib dictionary of SPDY/3 header blocks (draft 3, section 2.6.10.1): 65 length-prefixed
# words, then a run of status codes, reason phrases, dates and media types.
_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base "
    "content-encoding content-language content-length content-location content-md5 "
    "content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
    "server te trailer transfer-encoding upgrade user-agent vary via warning www-authenticate "
    "method get status"
).split() + ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive",
             "origin"]
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504"
    "505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
    "Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
    "Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, "
    "Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack("!I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()

#: The channel numbers of the WebSocket exec protocol, by SPDY stream type.
CHANNELS = {"stdin": 0, "stdout": 1, "stderr": 2, "error": 3, "resize": 4}
_OUTPUT = (CHANNELS["stdout"], CHANNELS["stderr"])
_INPUT = (CHANNELS["stdin"], CHANNELS["resize"])


class SpdyError(Exception):
    """The byte stream is not SPDY/3.1 kgate can follow; the connection must be cut."""


@dataclass(frozen=True)
class Frame:
    """One frame: ``kind`` is the control type, or 0 for DATA (then ``stream_id`` is set)."""

    kind: int
    flags: int
    data: bytes
    raw: bytes
    stream_id: int = 0


class FrameReader:
    """Splits a byte stream into frames (arbitrary chunk boundaries; bounded buffering)."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            first, second = _HEAD.unpack_from(self._buf)
            flags, length = second >> 24, second & 0xFFFFFF
            if length > self._max:
                raise SpdyError(f"frame of {length} bytes exceeds the {self._max} limit")
            if len(self._buf) < 8 + length:
                break
            raw = bytes(self._buf[:8 + length])
            del self._buf[:8 + length]
            body = raw[8:]
            if first & 0x80000000:
                version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
                if version != VERSION:
                    raise SpdyError(f"SPDY version {version}, expected {VERSION}")
                if kind not in _KNOWN_CONTROL:
                    raise SpdyError(f"unknown control frame type {kind}")
                frames.append(Frame(kind, flags, body, raw, _stream_of(kind, body)))
            else:
                stream_id = first & 0x7FFFFFFF
                if stream_id == 0:
                    raise SpdyError("DATA frame on stream 0")
                frames.append(Frame(0, flags, body, raw, stream_id))
        return frames

    @property
    def pending(self) -> int:
        return len(self._buf)


def _stream_of(kind: int, body: bytes) -> int:
    if kind in (SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE):
        if len(body) < 4:
            raise SpdyError(f"control frame type {kind} too short")
        return struct.unpack_from("!I", body)[0] & 0x7FFFFFFF
    return 0


class HeaderDecoder:
    """Decompresses the header blocks of one direction (one zlib stream per direction)."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(zdict=DICTIONARY)

    def decode(self, block: bytes) -> list[tuple[str, str]]:
        try:
            raw = self._z.decompress(block, MAX_HEADER_BLOCK)
        except zlib.error:
            raise SpdyError("a header block does not decompress") from None
        if self._z.unconsumed_tail:
            raise SpdyError("a header block is larger than kgate accepts")
        return _pairs(raw)


def _pairs(raw: bytes) -> list[tuple[str, str]]:
    try:
        (count,), pos = struct.unpack_from("!I", raw), 4
        pairs = []
        for _ in range(count):
            (n,) = struct.unpack_from("!I", raw, pos)
            name = raw[pos + 4:pos + 4 + n]
            pos += 4 + n
            (m,) = struct.unpack_from("!I", raw, pos)
            value = raw[pos + 4:pos + 4 + m]
            pos += 4 + m
            if len(name) != n or len(value) != m:
                raise SpdyError("a header block is truncated")
            pairs.append((name.decode("latin-1").lower(), value.decode("latin-1")))
    except struct.error:
        raise SpdyError("a header block is truncated") from None
    if pos != len(raw):
        raise SpdyError("a header block has trailing bytes")
    return pairs


def header_block_of(frame: Frame) -> bytes | None:
    """The compressed header block a control frame carries, if any."""
    if frame.kind == SYN_STREAM:
        if len(frame.data) < 10:
            raise SpdyError("SYN_STREAM too short")
        return frame.data[10:]
    if frame.kind in (SYN_REPLY, HEADERS):
        return frame.data[4:]
    return None


def data_frame(stream_id: int, payload: bytes, flags: int = 0) -> bytes:
    """Encode one DATA frame (split callers' payloads at ``MAX_FRAME`` themselves)."""
    return _HEAD.pack(stream_id & 0x7FFFFFFF, (flags << 24) | len(payload)) + payload


#: What the filter needs of a channel masker: the exec path's ``FrameMasker`` shape.
Feed = Callable[[int, bytes], list[tuple[int, bytes]]]


class ExecFilter:
    """Both directions of one SPDY exec/attach connection, masking server output.

    ``feed(channel, payload)`` and ``flush()`` are the WebSocket path's frame masker (channels
    1 stdout, 2 stderr masked; others returned after held output is flushed).
    """

    def __init__(self, feed: Feed, flush: Callable[[], list[tuple[int, bytes]]],
                 recorder: StreamRecorder | None = None) -> None:
        self._feed, self._flush = feed, flush
        #: Gets stdin and resize as the agent sent them and stdout/stderr after masking, as
        #: on the WebSocket path: choosing SPDY must not take a session out of its recording.
        self._recorder = recorder
        self._client, self._server = FrameReader(), FrameReader()
        self._client_headers, self._server_headers = HeaderDecoder(), HeaderDecoder()
        self._types: dict[int, str] = {}          # stream id → streamtype
        self._by_channel: dict[int, int] = {}     # output channel → stream id

    def from_client(self, data: bytes) -> bytes:
        """Client bytes to forward upstream (unchanged; parsed to follow the streams)."""
        recorder = self._recorder
        for frame in self._client.feed(data):
            self._follow(frame, self._client_headers)
            if recorder is not None and not frame.kind and frame.data:
                channel = CHANNELS.get(self._types.get(frame.stream_id, ""), -1)
                if channel in _INPUT:
                    recorder.input(channel, frame.data)
        return data

    def from_server(self, data: bytes) -> bytes:
        """Server bytes to forward to the client, stdout/stderr masked."""
        out: list[bytes] = []
        for frame in self._server.feed(data):
            if frame.kind:
                self._follow(frame, self._server_headers)
                if frame.kind in (RST_STREAM, GOAWAY):
                    out.append(self._encode(self._flush()))
                out.append(frame.raw)
                continue
            kind = self._types.get(frame.stream_id)
            if kind is None:
                raise SpdyError(f"DATA on stream {frame.stream_id}, which was never opened")
            channel = CHANNELS.get(kind, -1)
            if channel in _OUTPUT:
                out.append(self._encode(self._feed(channel, frame.data)))
                if frame.flags & FLAG_FIN:
                    out.append(self._encode(self._flush()))
                    out.append(data_frame(frame.stream_id, b"", FLAG_FIN))
            elif channel == CHANNELS["error"]:
                # The exit status: what is held on stdout/stderr goes out first, then this
                # frame as it came (kubectl stops reading once it has the exit status).
                out.append(self._encode(self._flush()))
                out.append(frame.raw)
            else:
                # A server never writes to stdin or resize; unknown types are not followed.
                raise SpdyError(f"server DATA on a {kind!r} stream")
        return b"".join(out)

    def flush(self) -> bytes:
        """Held output, framed (idle upstream, or the end of the connection)."""
        return self._encode(self._flush())

    def _follow(self, frame: Frame, headers: HeaderDecoder) -> None:
        block = header_block_of(frame)
        if block is None:
            return
        pairs = headers.decode(block)   # always: the zlib stream must stay in step
        if frame.kind != SYN_STREAM:
            return
        kind = next((v for k, v in pairs if k == "streamtype"), None)
        if kind is None:
            raise SpdyError(f"stream {frame.stream_id} opened without a streamtype")
        if frame.stream_id in self._types:
            raise SpdyError(f"stream {frame.stream_id} opened twice")
        self._types[frame.stream_id] = kind
        channel = CHANNELS.get(kind)
        if channel in _OUTPUT:
            self._by_channel[channel] = frame.stream_id

    def _encode(self, pairs: list[tuple[int, bytes]]) -> bytes:
        out: list[bytes] = []
        for channel, payload in pairs:
            stream_id = self._by_channel.get(channel)
            if stream_id is None or not payload:
                continue
            if self._recorder is not None:
                self._recorder.output(channel, payload)   # masked: what the agent sees
            for i in range(0, len(payload), MAX_FRAME - 1):
                out.append(data_frame(stream_id, payload[i:i + MAX_FRAME - 1]))
        return b"".join(out)
