"""The agent's side of a SPDY/3.1 (or other raw) upgrade: bytes both ways.

Port-forward is copied as it is; exec/attach from a SPDY-only kubectl goes through
``spdy.ExecFilter`` so stdout/stderr are masked as on the WebSocket path, held output is flushed
when upstream is quiet, and a frame the filter cannot follow cuts both connections.
"""

from __future__ import annotations

import asyncio
import contextlib

from kgate.proxy.channels import CHUNK, IDLE_FLUSH, first_done
from kgate.proxy.engine import UpgradedStream
from kgate.proxy.lean.websocket import AgentStream
from kgate.proxy.spdy import ExecFilter, SpdyError


async def relay_raw(agent: AgentStream, head: bytes, upstream: UpgradedStream,
                    spdy: ExecFilter | None = None) -> int:
    """Send ``head`` (101) and copy bytes until one side closes; return bytes sent down."""
    await agent.send(head)
    sent = 0

    async def agent_to_upstream() -> None:
        while chunk := await agent.read():
            await upstream.write(spdy.from_client(chunk) if spdy is not None else chunk)

    async def down(chunk: bytes) -> None:
        nonlocal sent
        if chunk:
            sent += len(chunk)
            await agent.send(chunk)

    async def upstream_to_agent() -> None:
        pending: asyncio.Future[bytes] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(upstream.read(CHUNK))
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
        await first_done(agent_to_upstream(), upstream_to_agent())
    upstream.close()
    return sent
