"""The socket-facing interface the pipeline drives, so the I/O engine can be replaced.

``lean/`` (asyncio Protocols on httptools) implements ``Downstream`` for one incoming request
(``lean/downstream.py``), ``Listener`` for the server (``lean/server.py``) and ``Upstream``
(``lean/client.py``); tests drive the pipeline with their own fakes of the same protocols. The
pipeline and its stages see only these protocols and plain bytes. The hooks a relay calls on
exec/attach frames (``FrameMasker``, ``StreamRecorder``) are declared here too, so an engine never
imports a stage: the stages implement them.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from kgate.proxy.credentials import UpstreamAuth
from kgate.proxy.headers import Headers

#: One exec/attach frame as the relay sees it: (channel, payload).
Frame = tuple[int, bytes]


class FrameMasker(Protocol):
    """Masks exec/attach output frames (1 stdout, 2 stderr); other channels pass unchanged.

    Output may be held back until a line is complete; the relay calls ``flush`` when upstream
    goes quiet (so a prompt without a newline still appears) and when the stream ends.
    """

    @property
    def masked(self) -> int: ...

    def feed(self, channel: int, payload: bytes) -> list[Frame]: ...

    def flush(self) -> list[Frame]: ...


class StreamRecorder(Protocol):
    """Receives the frames of one exec/attach stream (output after masking)."""

    def output(self, channel: int, payload: bytes) -> None: ...

    def input(self, channel: int, payload: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class UpstreamRequest:
    method: str
    path_qs: str
    headers: Headers
    body: bytes | None = None


class UpstreamResponse(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Headers: ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The (decompressed) body as it arrives; raises ``UpstreamError`` on a broken reply."""
        ...

    async def read(self, limit: int) -> bytes:
        """The whole body, or ``UpstreamError`` (502) if it is larger than ``limit``."""
        ...

    def close(self) -> None: ...


class UpgradedStream(Protocol):
    """An upstream connection after its ``101 Switching Protocols`` reply."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Headers: ...
    @property
    def body(self) -> bytes: ...

    async def read(self, n: int) -> bytes: ...

    async def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class Upstream(Protocol):
    @property
    def name(self) -> str: ...

    async def send(self, request: UpstreamRequest) -> UpstreamResponse: ...

    async def open_upgrade(self, request: UpstreamRequest) -> UpgradedStream: ...

    @property
    def auth(self) -> UpstreamAuth | None:
        """The broker's credential (tests of OIDC refresh look at it)."""
        ...

    async def close(self) -> None: ...


class Downstream(Protocol):
    """The agent's side of one exchange."""

    @property
    def method(self) -> str: ...
    @property
    def raw_path(self) -> str: ...
    @property
    def raw_query(self) -> str: ...
    @property
    def headers(self) -> Headers: ...
    @property
    def is_upgrade(self) -> bool: ...

    async def read_body(self, limit: int) -> bytes: ...

    async def respond(self, status: int, headers: Headers, body: bytes) -> None: ...

    async def start(self, status: int, headers: Headers) -> None: ...

    async def write(self, chunk: bytes) -> None: ...

    async def finish(self) -> None: ...

    @property
    def started(self) -> bool:
        """Whether the reply's head has gone out (a Status can no longer be sent)."""
        ...

    def abort(self) -> None:
        """Drop the connection (a stream failed after its head was sent)."""
        ...

    async def relay(self, upstream: UpgradedStream, frames: FrameMasker | None,
                    recorder: StreamRecorder | None = None) -> int:
        """Relay an upgraded connection until either side closes; return bytes sent down.
        ``recorder`` (exec/attach over WebSocket) gets the frames as the agent saw them."""
        ...


class Listener(Protocol):
    """The agent-facing server of one proxy run (one per engine)."""

    @property
    def port(self) -> int: ...

    async def start(self, host: str = "127.0.0.1", port: int = 0,
                    sock: socket.socket | None = None) -> str:
        """Start listening; return the server URL (``https://127.0.0.1:PORT``)."""
        ...

    async def stop(self) -> None: ...
