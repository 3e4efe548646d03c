"""A fast HTTPS upstream that replays replies recorded from the sandbox API server.

Why: the sandbox (aiohttp, building each List from its store) serves about 600 small GETs/s and a
handful of 1 MB PodLists/s on this box, so every proxy in front of it would measure the sandbox.
The harness creates the objects in the sandbox through its API, records the sandbox's replies
(status, content type, body bytes) and serves them from this process instead: an asyncio
``Protocol`` on ``httptools`` and uvloop with canned bytes, the role nginx played in the issue 15
measurements. Bodies over 32 KiB go out chunked (one chunk, as the Go API server's encoder
writes them), smaller ones with a Content-Length. It answers any bearer token; a path it did not
record gets a 404 ``Status``.

Run: ``python -m bench.replay RECORD_DIR STATE_DIR`` → prints ``ready https://127.0.0.1:PORT``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
from pathlib import Path

import httptools

from bench.loadclient import run
from kgate.pki import issue_server_identity

CHUNKED_ABOVE = 32 * 1024
_NOT_FOUND = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                         "reason": "NotFound", "code": 404}).encode()


def _reply(status: int, content_type: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n" \
           f"Content-Type: {content_type}\r\nCache-Control: no-cache, private\r\n"
    if len(body) > CHUNKED_ABOVE:
        return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + \
            f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def record(directory: Path, replies: dict[str, tuple[int, str, bytes]]) -> None:
    """Save ``{path_qs: (status, content type, body)}`` for ``python -m bench.replay``."""
    directory.mkdir(parents=True, exist_ok=True)
    index = {}
    for i, (path, (status, ctype, body)) in enumerate(replies.items()):
        (directory / f"{i}.body").write_bytes(body)
        index[path] = {"status": status, "content_type": ctype, "file": f"{i}.body"}
    (directory / "index.json").write_text(json.dumps(index))


def load(directory: Path) -> dict[bytes, bytes]:
    index = json.loads((directory / "index.json").read_text())
    return {path.encode(): _reply(e["status"], e["content_type"],
                                  (directory / e["file"]).read_bytes())
            for path, e in index.items()}


class _Replay(asyncio.Protocol):
    def __init__(self, replies: dict[bytes, bytes]) -> None:
        self._replies = replies
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            assert self._transport is not None
            self._transport.close()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_message_complete(self) -> None:
        assert self._transport is not None
        reply = self._replies.get(self._url)
        self._transport.write(reply if reply is not None
                              else _reply(404, "application/json", _NOT_FOUND))
        self._url = b""
        if not self._parser.should_keep_alive():
            self._transport.close()


async def serve(replies: dict[bytes, bytes], ctx: ssl.SSLContext) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Replay(replies), "127.0.0.1", 0, ssl=ctx,
                                      backlog=512)
    port = server.sockets[0].getsockname()[1]
    print(f"ready https://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    records, state = Path(sys.argv[1]), Path(sys.argv[2])
    ident = issue_server_identity(state)
    ctx = ident.server_context(state / "srv")
    replies = load(records)
    try:
        run(lambda: serve(replies, ctx))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
