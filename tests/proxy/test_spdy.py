"""SPDY/3.1 exec framing: the parser follows kubectl's streams, masks stdout/stderr like the
WebSocket path, and cuts (``SpdyError``) rather than pass anything it cannot read."""

from __future__ import annotations

import random
import struct
import zlib

import orjson
import pytest

from kgate.proxy.attributes import parse_request
from kgate.proxy.spdy import (
    DICTIONARY,
    FLAG_FIN,
    SYN_REPLY,
    SYN_STREAM,
    WINDOW_UPDATE,
    ExecFilter,
    FrameReader,
    SpdyError,
    data_frame,
)
from kgate.proxy.stages.masking import EngineMasker

SECRET = "Sp4dy-Leak-Candidate-77Qx"


def _block(pairs: list[tuple[str, str]], z: zlib._Compress) -> bytes:
    raw = struct.pack("!I", len(pairs)) + b"".join(
        struct.pack("!I", len(k)) + k.encode() + struct.pack("!I", len(v)) + v.encode()
        for k, v in pairs)
    return z.compress(raw) + z.flush(zlib.Z_SYNC_FLUSH)


def _control(kind: int, body: bytes, flags: int = 0, version: int = 3) -> bytes:
    return struct.pack("!II", 0x80000000 | (version << 16) | kind, (flags << 24) | len(body)) \
        + body


def _syn_stream(stream_id: int, kind: str, z: zlib._Compress) -> bytes:
    body = struct.pack("!IIBB", stream_id, 0, 0, 0) + _block([("streamtype", kind)], z)
    return _control(SYN_STREAM, body)


def _client_hello() -> bytes:
    """kubectl's opening: error, stdin, stdout, stderr streams (odd ids, one zlib stream)."""
    z = zlib.compressobj(zdict=DICTIONARY)
    return b"".join(_syn_stream(i, kind, z) for i, kind in
                    ((1, "error"), (3, "stdin"), (5, "stdout"), (7, "stderr")))


def _server_replies() -> bytes:
    z = zlib.compressobj(zdict=DICTIONARY)
    return b"".join(_control(SYN_REPLY, struct.pack("!I", i) + _block([], z))
                    for i in (1, 3, 5, 7))


def _filter() -> ExecFilter:
    masker = EngineMasker()
    masker.learn(orjson.dumps({"kind": "Secret", "metadata": {"name": "db"},
                               "data": {"password": __import__("base64").b64encode(
                                   SECRET.encode()).decode()}}))
    frames = masker.exec_frames(parse_request("POST", "/api/v1/namespaces/n/pods/p/exec",
                                              "command=cat&stdout=true"))
    assert frames is not None
    return ExecFilter(frames.feed, frames.flush)


def _payloads(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for frame in FrameReader().feed(data):
        if not frame.kind:
            out[frame.stream_id] = out.get(frame.stream_id, b"") + frame.data
    return out


def test_dictionary_is_the_spdy3_one() -> None:
    # Every SPDY/3 header block's zlib header names this dictionary by its Adler-32.
    assert len(DICTIONARY) == 1423 and zlib.adler32(DICTIONARY) == 0xE3C6A7C2


def test_stdout_and_stderr_are_masked_and_other_frames_pass_unchanged() -> None:
    f = _filter()
    hello = _client_hello()
    assert f.from_client(hello) == hello
    replies = _server_replies()
    assert f.from_server(replies) == replies
    out = f.from_server(data_frame(5, f"password is {SECRET}\n".encode())
                        + data_frame(7, f"warn: {SECRET}\n".encode())
                        + data_frame(1, b'{"status":"Success"}'))
    payloads = _payloads(out)
    assert SECRET.encode() not in out
    assert b"kgate:masked:" in payloads[5] and payloads[5].startswith(b"password is ")
    assert b"kgate:masked:" in payloads[7]
    assert payloads[1] == b'{"status":"Success"}'
    window = _control(WINDOW_UPDATE, struct.pack("!II", 5, 1000))
    assert f.from_client(window) == window


def test_a_secret_split_across_frames_and_chunks_is_still_masked() -> None:
    f = _filter()
    f.from_client(_client_hello())
    f.from_server(_server_replies())
    wire = (data_frame(5, f"x={SECRET[:9]}".encode()) + data_frame(5, f"{SECRET[9:]}\n".encode())
            + data_frame(5, b"", FLAG_FIN))
    out = b"".join(f.from_server(wire[i:i + 3]) for i in range(0, len(wire), 3)) + f.flush()
    joined = _payloads(out)[5]
    assert SECRET.encode() not in joined and b"kgate:masked:" in joined
    # the FIN that closed stdout is kept, after the held output
    last = FrameReader().feed(out)[-1]
    assert last.stream_id == 5 and last.flags & FLAG_FIN


def test_held_output_is_flushed_before_the_exit_status() -> None:
    f = _filter()
    f.from_client(_client_hello())
    f.from_server(_server_replies())
    out = f.from_server(data_frame(5, b"prompt$ ") + data_frame(1, b'{"status":"Success"}'))
    frames = [fr for fr in FrameReader().feed(out) if not fr.kind]
    assert [fr.stream_id for fr in frames] == [5, 1]
    assert frames[0].data == b"prompt$ "


@pytest.mark.parametrize("bad", [
    _control(SYN_STREAM, b"\x00\x00\x00\x01", version=2),                 # wrong version
    _control(42, b"\x00" * 8),                                            # unknown type
    struct.pack("!II", 0x80030001, (0 << 24) | 0xFFFFFF),                 # over the limit
    _control(SYN_STREAM, b"\x00\x00\x00\x09\x00\x00\x00\x00\x00\x00garbage-not-zlib"),
    data_frame(0, b"x"),                                                  # stream 0
])
def test_malformed_client_frames_are_refused(bad: bytes) -> None:
    f = FrameReader(max_frame=1 << 20)
    with pytest.raises(SpdyError):
        if f.feed(bad):
            ExecFilter(lambda c, p: [(c, p)], list).from_client(bad)


def test_data_on_a_stream_never_opened_is_refused() -> None:
    f = _filter()
    f.from_client(_client_hello())
    with pytest.raises(SpdyError):
        f.from_server(data_frame(9, f"{SECRET}\n".encode()))


def test_a_stream_without_streamtype_or_opened_twice_is_refused() -> None:
    z = zlib.compressobj(zdict=DICTIONARY)
    body = struct.pack("!IIBB", 1, 0, 0, 0) + _block([("other", "x")], z)
    with pytest.raises(SpdyError):
        _filter().from_client(_control(SYN_STREAM, body))
    z = zlib.compressobj(zdict=DICTIONARY)
    twice = _syn_stream(5, "stdout", z) + _syn_stream(5, "stdout", z)
    with pytest.raises(SpdyError):
        _filter().from_client(twice)


def test_fuzzed_streams_are_cut_or_masked_never_leaked() -> None:
    """Random byte flips, truncations and splices of a real-shaped session: the filter either
    raises SpdyError or emits output without the secret; it never raises anything else."""
    rng = random.Random(1729)
    hello, replies = _client_hello(), _server_replies()
    server = replies + data_frame(5, f"token {SECRET}\n".encode()) + data_frame(
        7, f"{SECRET}\n".encode()) + data_frame(1, b'{"status":"Success"}')
    for _ in range(600):
        f = _filter()
        client = bytearray(hello)
        wire = bytearray(server)
        target = wire if rng.random() < 0.7 else client
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            i = rng.randrange(len(target))
            if op < 0.6:
                target[i] = rng.randrange(256)
            elif op < 0.8:
                del target[i:i + rng.randint(1, 16)]
            else:
                target[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        try:
            f.from_client(bytes(client))
            out = b"".join(f.from_server(bytes(wire[j:j + 7])) for j in range(0, len(wire), 7))
            out += f.flush()
        except SpdyError:
            continue
        # a flipped byte may change the secret itself; the intact secret never gets out
        assert SECRET.encode() not in out


@pytest.mark.parametrize("stream_id", [3, 11])
def test_server_data_on_stdin_or_unknown_type_is_refused(stream_id: int) -> None:
    f = _filter()
    z = zlib.compressobj(zdict=DICTIONARY)
    f.from_client(b"".join(_syn_stream(i, k, z) for i, k in
                           ((1, "error"), (3, "stdin"), (5, "stdout"), (11, "mystery"))))
    with pytest.raises(SpdyError):
        f.from_server(data_frame(stream_id, f"{SECRET}\n".encode()))
