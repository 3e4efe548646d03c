"""One agent connection: an ``asyncio.Protocol`` that parses requests with llhttp (httptools)
and runs their exchanges one at a time.

Keep-alive and pipelining: a request's exchange starts when its head is complete; while it runs,
bytes of later requests are held unparsed (``_stash``) and only parsed when it has ended, so
replies go out in order and nothing is read ahead without bound. Reading pauses when what is held
(the stash, an unread request body, upgraded bytes) passes ``READ_HIGH``, and writers await the
transport dropping below its high-water mark: a slow agent on a fast watch holds kgate back
instead of growing its buffers. Reading is not paused while an exchange merely runs, so an agent
that hangs up is noticed (its exchange is cancelled, as a held review or a quiet watch must be).

Timers run only between exchanges: an idle keep-alive connection is closed after
``idle_timeout``; a request head that has begun but not ended within ``head_timeout`` gets the
connection dropped. A held request (human review) can wait as long as review takes.

After an upgrade head (llhttp stops there), the rest of the connection is raw bytes: a relay
reads them through ``read``/``send`` (the ``AgentStream`` of ``lean.websocket``), or, if the
pipeline answered the request itself, the connection closes after that reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

import httptools

from kgate.proxy import headers as hdr
from kgate.proxy.errors import Refusal
from kgate.proxy.lean.downstream import LeanDownstream
from kgate.proxy.lean.http1 import MAX_HEAD, MAX_HEADERS, BadRequest, check_head, error_reply
from kgate.proxy.watchdog import SessionWatchdog

log = logging.getLogger("kgate.proxy.http")

#: Write buffer size above which writers wait for the agent to read.
WRITE_HIGH = 256 * 1024
#: Held bytes (unparsed pipelined data, an unread body, relay input) above which reading pauses.
READ_HIGH = 256 * 1024
_STATUS_HEADERS = (("Content-Type", "application/json"),)
#: A timer this close to its deadline counts as due (libuv's timers are millisecond-grained).
_EARLY = 0.01


@dataclass(frozen=True)
class Timeouts:
    """How long a connection may sit between exchanges (seconds)."""

    idle: float
    head: float


class AgentConnection(asyncio.Protocol):
    """One TCP+TLS connection from the agent; see the module docstring."""

    def __init__(self, handle: Callable[[LeanDownstream], Awaitable[None]],
                 watchdog: SessionWatchdog, timeouts: Timeouts,
                 registry: set[AgentConnection]) -> None:
        self._handle = handle
        self._watchdog = watchdog
        self.timeouts = timeouts
        self._registry = registry
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        # The head being parsed.
        self._url: list[bytes] = []
        self._fields: list[tuple[str, str]] = []
        self._head_size = 0
        self._in_head = False
        # Requests: the one whose body is arriving, the one being served, those parsed behind it.
        self._receiving: LeanDownstream | None = None
        self._last: LeanDownstream | None = None
        self._active: LeanDownstream | None = None
        self._waiting: deque[LeanDownstream] = deque()
        self.task: asyncio.Task[None] | None = None
        self._stash = bytearray()
        self._bad: BadRequest | None = None
        self._bad_answered = False
        # After an upgrade head: the bytes that follow it, for a relay (None: still HTTP).
        self._raw: bytearray | None = None
        self._raw_waiter: asyncio.Future[None] | None = None
        self._body_left = 0  # of an upgrade request's declared body, still to come
        self._relaying = False
        self._reading_paused = False
        self._writing_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        # One timer, re-armed only when it fires early or must fire sooner (see ``_arm``).
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._deadline: float | None = None
        self._shutting_down = False
        self.closed = False

    # ------------------------------------------------------------ transport events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transport is a Transport in all but its class hierarchy.
        self._transport = transport = cast(asyncio.Transport, transport)
        transport.set_write_buffer_limits(high=WRITE_HIGH)
        self._registry.add(self)
        self._arm(self.timeouts.idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.task is None:
            self._registry.discard(self)
        # else: ``_done`` leaves the registry: the server's stop waits for a running exchange
        # (its record goes into the log before the log is sealed) even after the agent left.
        self._disarm()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()
        for down in (self._active, self._receiving):
            if down is not None:
                down.wake()
        self._wake_raw()
        if self.task is not None and not self._relaying:
            # The agent hung up: nobody waits for this reply (a held review, a quiet watch).
            self.task.cancel()

    def eof_received(self) -> bool:
        return False  # a half-closed agent is a gone agent: close

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()

    def data_received(self, data: bytes) -> None:
        if self._raw is not None:
            self._take_raw(data)
        elif self._bad is not None:
            return  # after a refused head nothing more is read
        elif self._stash or (self._active is not None and self._receiving is None
                             and not self._in_head):
            self._stash += data  # the next request: parsed once this exchange has ended
        else:
            self._feed(data)
        self.flow()

    def _take_raw(self, data: bytes) -> None:
        assert self._raw is not None
        if self._body_left and self._receiving is not None:
            body = data[:self._body_left]
            data = data[len(body):]
            self._body_left -= len(body)
            self._receiving.body_arrived(body)
            if not self._body_left:
                self._receiving.body_done()
                self._receiving = None
        if data:
            self._raw += data
            self._wake_raw()

    def _feed(self, data: bytes) -> None:
        was_in_head = self._in_head
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._raw = bytearray()
            last = self._last
            if last is not None:
                last.ends_connection()  # what follows is no longer HTTP
                # llhttp hands over what follows the head: a declared body comes first.
                self._body_left = last.declared_length
                if self._body_left:
                    last.body_complete = False
                    self._receiving = last
            self._take_raw(data[upgrade.args[0]:])
            return
        except httptools.HttpParserError as err:
            cause = err.__context__
            self._refuse(cause if isinstance(cause, BadRequest)
                         else BadRequest(400, "malformed HTTP request"))
            return
        if self._in_head and not was_in_head and self._active is None:
            # A head began and is not complete yet: it has ``head`` seconds to be. (One that
            # completes within the bytes that began it never arms this.)
            self._arm(self.timeouts.head)
        if self._in_head and was_in_head:
            # llhttp keeps a partial field to itself: count what arrives while the head is open.
            self._head_size += len(data)
            if self._head_size > MAX_HEAD:
                self._refuse(BadRequest(431, "the request head is too large"))

    # ------------------------------------------------------------ llhttp callbacks

    def on_message_begin(self) -> None:
        self._url, self._fields, self._head_size, self._in_head = [], [], 0, True

    def on_url(self, url: bytes) -> None:
        self._url.append(url)
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        if self._head_size > MAX_HEAD or len(self._fields) >= MAX_HEADERS:
            raise BadRequest(431, "the request head is too large")
        self._fields.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        parser = self._parser
        target = b"".join(self._url).decode("latin-1")
        fields = hdr.Fields(self._fields)
        check_head(target, fields, parser.should_upgrade())
        self._in_head = False
        down = LeanDownstream(self, parser.get_method().decode("ascii"), target, fields,
                              keep_alive=parser.should_keep_alive(),
                              http11=parser.get_http_version() == "1.1")
        self._receiving = self._last = down
        if self._active is None and not self._waiting:
            self._begin(down)
        else:
            self._waiting.append(down)

    def on_body(self, body: bytes) -> None:
        if self._receiving is not None:
            self._receiving.body_arrived(body)

    def on_message_complete(self) -> None:
        if self._receiving is not None:
            self._receiving.body_done()
            self._receiving = None

    # ------------------------------------------------------------ exchanges

    def _begin(self, down: LeanDownstream) -> None:
        self._disarm()
        self._active = down
        self.task = self._loop.create_task(self._exchange(down))

    async def _exchange(self, down: LeanDownstream) -> None:
        try:
            with self._watchdog.track(down):
                await self._handle(down)
        except ConnectionError:
            self.abort()  # the agent went away while its refusal was being written
        except Exception as err:  # noqa: BLE001 - the pipeline handles its own; this is the engine
            log.error("kgate: the HTTP engine failed during an exchange (%s)",
                      type(err).__name__)
            if down.started or self.closed:
                self.abort()
            else:
                refusal = Refusal(500, "internal error in kgate; the request was not completed")
                try:
                    await down.respond(500, _STATUS_HEADERS, refusal.body())
                except (ConnectionError, ValueError):
                    self.abort()
        finally:
            self._done(down)

    def _done(self, down: LeanDownstream) -> None:
        self._active = None
        self.task = None
        if self.closed:
            self._registry.discard(self)
            return
        if self._bad is not None:
            if not self._bad_answered:
                self._answer_bad()
            else:
                self.close()
            return
        if self._shutting_down or not down.reusable:
            self.close()
            return
        if self._waiting:
            self._begin(self._waiting.popleft())
            return
        self._arm(self.timeouts.head if self._in_head else self.timeouts.idle)
        if self._stash:
            data, self._stash = bytes(self._stash), bytearray()
            self._feed(data)
        self.flow()

    def _refuse(self, err: BadRequest) -> None:
        """A request kgate will not parse: answer it (after the running exchange) and close."""
        self._bad = err
        self._stash.clear()
        receiving = self._receiving
        if receiving is not None and receiving is self._active:
            # The running exchange's own body is broken: it answers through its Refusal.
            self._bad_answered = True
            receiving.body_failed(err.code, err.message)
        log.warning("kgate: refused a malformed request (%s)", err.message)
        if self._active is None:
            self._answer_bad()

    def _answer_bad(self) -> None:
        assert self._bad is not None and self._transport is not None
        self._bad_answered = True
        if not self._transport.is_closing():
            self._transport.write(error_reply(self._bad.code, self._bad.message))
        self.close()

    def shutdown(self) -> None:
        """The server is stopping: close now if idle, else when the running exchange ends."""
        self._shutting_down = True
        if self._active is None:
            self.close()

    # ------------------------------------------------------------ flow control and timers

    def flow(self) -> None:
        """Pause reading while more than ``READ_HIGH`` bytes are held unread."""
        transport = self._transport
        if self.closed or transport is None:
            return
        receiving = self._receiving
        if receiving is not None and receiving.buffered > READ_HIGH:
            pause = True
        elif self._raw is not None:
            pause = (not self._relaying and not self._body_left) or len(self._raw) > READ_HIGH
        else:
            pause = len(self._stash) > READ_HIGH or self._bad is not None
        if pause != self._reading_paused:
            self._reading_paused = pause
            if pause:
                transport.pause_reading()
            else:
                transport.resume_reading()

    def _arm(self, seconds: float) -> None:
        """Time out ``seconds`` from now. A keep-alive connection arms and disarms this for
        every request: the deadline moves, and the timer is only re-armed when it would fire
        too late; firing early, it re-arms itself for the deadline."""
        deadline = self._loop.time() + seconds
        self._deadline = deadline
        if self._timer is None or self._timer_at > deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(deadline, self._timed_out)
            self._timer_at = deadline

    def _disarm(self) -> None:
        self._deadline = None

    def _timed_out(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self._active is not None or self.closed:
            return
        if self._loop.time() < deadline - _EARLY:
            self._timer = self._loop.call_at(deadline, self._timed_out)
            self._timer_at = deadline
            return
        if self._in_head:
            log.debug("kgate: dropped a connection whose request head did not arrive in time")
            self.abort()
        else:
            self.close()

    # ------------------------------------------------------------ writing, and the raw stream

    @property
    def write_buffered(self) -> int:
        transport = self._transport
        return 0 if transport is None or self.closed else transport.get_write_buffer_size()

    @property
    def writing_paused(self) -> bool:
        return self._writing_paused

    def write(self, data: bytes) -> None:
        transport = self._transport
        if self.closed or transport is None or transport.is_closing():
            raise ConnectionError("the agent's connection is closed")
        transport.write(data)

    async def drain(self) -> None:
        if self._writing_paused and not self.closed:
            waiter = self._loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter
        if self.closed:
            raise ConnectionError("the agent's connection is closed")

    async def send(self, data: bytes) -> None:
        """Write ``data`` and wait while the agent is behind on reading."""
        self.write(data)
        if self._writing_paused:
            await self.drain()

    def start_relay(self) -> bool:
        """Hand the bytes after the upgrade head to a relay; False if there are none to hand
        (llhttp did not stop at this head: the request carried a body)."""
        if self._raw is None or self._relaying or self._body_left:
            return False
        self._relaying = True
        self.flow()
        return True

    async def read(self) -> bytes:
        """Upgraded bytes from the agent as they come; ``b""`` once it has closed."""
        raw = self._raw
        assert raw is not None
        while not raw and not self.closed:
            self._raw_waiter = self._loop.create_future()
            try:
                await self._raw_waiter
            finally:
                self._raw_waiter = None
        data = bytes(raw)
        raw.clear()
        self.flow()
        return data

    def _wake_raw(self) -> None:
        if self._raw_waiter is not None and not self._raw_waiter.done():
            self._raw_waiter.set_result(None)

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
