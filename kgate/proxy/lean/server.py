"""The lean engine's agent-facing HTTPS server: asyncio Protocols on httptools (llhttp), TLS
from the standard library, no web framework.

``LeanServer`` is the ``Listener`` of ``kgate.proxy.engine``: it listens on loopback (or on a socket
the CLI already bound) and gives each connection an ``AgentConnection`` (``connection.py``), which
parses requests and hands each one to the pipeline as a ``LeanDownstream`` (``downstream.py``), one
exchange at a time, each registered with the session watchdog while it runs. Upgraded
exec/attach/port-forward connections are relayed by ``websocket.py`` and ``raw.py``. Nothing here
decides anything.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

from kgate.proxy.lean.connection import AgentConnection, Timeouts
from kgate.proxy.pipeline import Pipeline
from kgate.proxy.quietlog import quiet_asyncio
from kgate.proxy.watchdog import SessionWatchdog

#: An idle keep-alive connection is closed after this many seconds.
IDLE_TIMEOUT = 120.0
#: A request head that has begun must be complete within this many seconds.
HEAD_TIMEOUT = 60.0
#: On stop, running exchanges get this long to end before they are cut.
SHUTDOWN_TIMEOUT = 2.0
TLS_HANDSHAKE_TIMEOUT = 30.0

quiet_asyncio()


class LeanServer:
    """Serves the pipeline over HTTPS on loopback."""

    def __init__(self, pipeline: Pipeline, ssl_context: ssl.SSLContext,
                 watchdog: SessionWatchdog | None = None, *,
                 idle_timeout: float | None = None, head_timeout: float | None = None) -> None:
        self.pipeline = pipeline
        # Every exchange is registered while it runs, so ending the grant can cut it.
        self.watchdog = watchdog or SessionWatchdog()
        self._ssl = ssl_context
        # Read at construction (not import) so a test can set the module's values first.
        self._timeouts = Timeouts(idle=idle_timeout or IDLE_TIMEOUT,
                                  head=head_timeout or HEAD_TIMEOUT)
        self._connections: set[AgentConnection] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    def _connection(self) -> AgentConnection:
        return AgentConnection(self.pipeline.handle, self.watchdog, self._timeouts,
                               self._connections)

    async def start(self, host: str = "127.0.0.1", port: int = 0,
                    sock: socket.socket | None = None) -> str:
        """Start listening; return the server URL (``https://127.0.0.1:PORT``)."""
        loop = asyncio.get_running_loop()
        if sock is not None:
            self._server = await loop.create_server(
                self._connection, sock=sock, ssl=self._ssl, backlog=256,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT)
        else:
            self._server = await loop.create_server(
                self._connection, host, port, ssl=self._ssl, backlog=256,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"https://127.0.0.1:{self.port}"

    @property
    def write_backlog(self) -> tuple[int, int]:
        """Bytes written for agents that they have not taken yet, and how many connections
        have a writer waiting for its agent to read (diagnostics; tests of backpressure)."""
        return (sum(conn.write_buffered for conn in self._connections),
                sum(conn.writing_paused for conn in self._connections))

    async def stop(self) -> None:
        """Stop accepting; let running exchanges end (up to ``SHUTDOWN_TIMEOUT``), then cut
        the rest, and return once every exchange has finished (and been handed to audit)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        connections = list(self._connections)
        for conn in connections:
            conn.shutdown()
        tasks = {conn.task for conn in connections if conn.task is not None}
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT)
        for conn in list(self._connections):
            conn.abort()
            if conn.task is not None:
                tasks.add(conn.task)
                conn.task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT)
        await server.wait_closed()
