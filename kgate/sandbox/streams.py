"""The sandbox's streaming pod subresources: ``log``, ``exec``, ``attach`` and ``portforward``.

The API server core routes ``/api/v1/namespaces/{ns}/pods/{name}/{log,exec,attach,portforward}``
here (GET and POST) after authenticating and finding the pod.

Pod data conventions (seed data and controllers follow them):

* ``metadata.annotations["sandbox.kgate.dev/log"]``: the pod's log text so far (multi-line);
  ``sandbox.kgate.dev/log.<container>`` overrides it for one container. Without either, a couple
  of start-up lines derived from the container's name and image.
* ``sandbox.kgate.dev/log-every: "1s"`` (Go-style duration: ``500ms``, ``2s``, ``1m30s``): while a
  client follows the log (``logs -f``) or is attached, the pod appends
  ``<RFC3339> heartbeat n=<N>`` at that interval.
* Log line *i* of the initial text is stamped ``creationTimestamp + i ms`` (for ``timestamps`` and
  ``sinceSeconds``).

Logs are chunked ``text/plain``, flushed per line, never buffered whole; a follow ends when the
pod is deleted (``get_pod()`` polled every 0.2 s) or the client goes away. exec/attach speak the
WebSocket channel protocol (``v5.channel.k8s.io``, or ``v4``): byte 0 of each binary message is
the channel (0 stdin, 1 stdout, 2 stderr, 3 error Status, 4 resize, 255 close) — or, for kubectl
1.29 and older, SPDY/3.1 with one stream per channel (``spdyexec``). Port-forward gets a non-101
``Status`` refusal that kubectl prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from kgate.sandbox import podshell, spdyexec
from kgate.sandbox.podshell import Input, Lookup, Process, find_container
from kgate.status import status_bytes

__all__ = ["Lookup", "serve_pod_exec", "serve_pod_log", "serve_pod_portforward"]

LOG_ANNOTATION = "sandbox.kgate.dev/log"
LOG_EVERY_ANNOTATION = "sandbox.kgate.dev/log-every"
POLL_SECONDS = 0.2

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")


class _Refusal(Exception):
    """A request the sandbox answers with a ``Status`` instead of a stream."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    def response(self) -> web.Response:
        return web.Response(status=self.code, body=status_bytes(self.code, self.message),
                            content_type="application/json")


# --- shared helpers -------------------------------------------------------------------------

def _names(pod: dict[str, Any]) -> tuple[str, str]:
    meta = pod.get("metadata") or {}
    return meta.get("namespace", "default"), meta.get("name", "")


def _pick_container(pod: dict[str, Any], requested: str | None) -> dict[str, Any]:
    """The container a request means, or a ``_Refusal`` worded like kube-apiserver's."""
    _, name = _names(pod)
    spec = pod.get("spec") or {}
    containers = [c.get("name", "") for c in spec.get("containers") or []]
    if not requested:
        if len(containers) > 1:
            raise _Refusal(400, f"a container name must be specified for pod {name}, "
                                f"choose one of: [{' '.join(containers)}]")
        if not containers:
            raise _Refusal(400, f"pod {name} has no containers")
    found = find_container(pod, requested)
    if found is None:
        raise _Refusal(400, f'container {requested} is not valid for pod {name}')
    return found


def parse_duration(text: str) -> float:
    """A Go-style duration (``1s``, ``250ms``, ``1m30s``) in seconds; ``ValueError`` if invalid."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"invalid duration {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


def _heartbeat_interval(pod: dict[str, Any]) -> float | None:
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(LOG_EVERY_ANNOTATION)
    if not raw:
        return None
    try:
        return max(parse_duration(str(raw)), 0.05)
    except ValueError:
        return None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _rfc3339(when: dt.datetime, nano: bool = False) -> str:
    if nano:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}000Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _created(pod: dict[str, Any]) -> dt.datetime:
    raw = (pod.get("metadata") or {}).get("creationTimestamp")
    try:
        return dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return _now()


def initial_log(pod: dict[str, Any], container: dict[str, Any]) -> list[str]:
    """The pod's log lines so far for one container (see the module docstring)."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    name = container.get("name", "")
    text = annotations.get(f"{LOG_ANNOTATION}.{name}", annotations.get(LOG_ANNOTATION))
    if text is None:
        image = container.get("image", "unknown")
        return [f"starting {name} (image {image})", f"{name} is ready"]
    return str(text).splitlines()


def _heartbeat_line(n: int) -> str:
    return f"{_rfc3339(_now())} heartbeat n={n}"


# --- pods/log -------------------------------------------------------------------------------

async def serve_pod_log(request: web.Request, pod: dict[str, Any],
                        get_pod: Callable[[], dict[str, Any] | None]) -> web.StreamResponse:
    """``GET …/pods/{name}/log``: the container's log, streamed (and followed if asked)."""
    q = request.query
    try:
        container = _pick_container(pod, q.get("container"))
        options = _log_options(q)
    except _Refusal as e:
        return e.response()
    if options["previous"]:
        _, name = _names(pod)
        return _Refusal(400, f'previous terminated container "{container.get("name")}" in pod '
                             f'"{name}" not found').response()
    created = _created(pod)
    lines = [(created + dt.timedelta(milliseconds=i), text)
             for i, text in enumerate(initial_log(pod, container))]
    if options["since"] is not None:
        cutoff = _now() - dt.timedelta(seconds=options["since"])
        lines = [(t, text) for t, text in lines if t >= cutoff]
    if options["tail"] is not None:
        lines = lines[-options["tail"]:] if options["tail"] > 0 else []

    resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    budget = options["limit"]

    async def emit(when: dt.datetime, text: str) -> bool:
        """Write one line; False once the byte limit is spent or the client is gone."""
        nonlocal budget
        data = ((_rfc3339(when, nano=True) + " ") if options["timestamps"] else "") + text + "\n"
        raw = data.encode()
        if budget is not None:
            raw, budget = raw[:budget], budget - len(raw[:budget])
        if _client_gone(request):
            return False
        try:
            await resp.write(raw)
        except (ConnectionError, RuntimeError):
            return False
        return budget is None or budget > 0

    for when, text in lines:
        if not await emit(when, text):
            return resp
    if options["follow"]:
        await _follow(request, get_pod, emit)
    with contextlib.suppress(ConnectionError, RuntimeError):
        await resp.write_eof()
    return resp


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _log_options(q: Any) -> dict[str, Any]:
    def flag(name: str) -> bool:
        return str(q.get(name, "false")).lower() in ("true", "1")

    def number(name: str, minimum: int) -> int | None:
        raw = q.get(name)
        if raw is None or raw == "":
            return None
        try:
            value = int(raw)
        except ValueError:
            raise _Refusal(400, f"{name}: invalid value {raw!r}: must be an integer") from None
        if value < minimum:
            raise _Refusal(400, f"{name}: invalid value {value}: must be >= {minimum}")
        return value

    tail = number("tailLines", 0)
    return {"follow": flag("follow"), "timestamps": flag("timestamps"),
            "previous": flag("previous"), "tail": tail, "since": number("sinceSeconds", 1),
            "limit": number("limitBytes", 1)}


async def _follow(request: web.Request, get_pod: Callable[[], dict[str, Any] | None],
                  emit: Callable[[dt.datetime, str], Any]) -> None:
    """Append heartbeat lines while the pod exists and the client listens."""
    pod = get_pod()
    interval = _heartbeat_interval(pod) if pod else None
    loop = asyncio.get_running_loop()
    next_beat = loop.time() + interval if interval else None
    n = 0
    while pod is not None and not _client_gone(request):
        wait = POLL_SECONDS
        if next_beat is not None:
            wait = max(0.0, min(wait, next_beat - loop.time()))
        await asyncio.sleep(wait)
        if next_beat is not None and interval and loop.time() >= next_beat:
            n += 1
            next_beat += interval
            if not await emit(_now(), f"heartbeat n={n}"):
                return
        pod = get_pod()


# --- pods/exec and pods/attach --------------------------------------------------------------

def _wants_websocket(request: web.Request) -> bool:
    return (request.method == "GET"
            and request.headers.get("Upgrade", "").lower() == "websocket")


def _choose_protocol(request: web.Request) -> str | None:
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    return next((p for p in CHANNEL_PROTOCOLS if p in offered), None)


def _exec_refusal(request: web.Request, verb: str) -> _Refusal | None:
    if spdyexec.wants_spdy(request):
        if spdyexec.offered_protocol(request) is None:
            return _Refusal(400, f"{verb} over SPDY needs X-Stream-Protocol-Version: "
                                 f"{', '.join(spdyexec.PROTOCOLS)}")
        return None
    if not _wants_websocket(request):
        return _Refusal(400, f"the kgate sandbox serves {verb} over WebSocket "
                             f"({', '.join(CHANNEL_PROTOCOLS)}) or SPDY/3.1 only")
    if _choose_protocol(request) is None:
        return _Refusal(400, f"{verb} needs a WebSocket subprotocol of: "
                             f"{', '.join(CHANNEL_PROTOCOLS)}")
    return None


class _Channels:
    """One exec/attach WebSocket: demultiplexes stdin, multiplexes stdout/stderr/error."""

    def __init__(self, ws: web.WebSocketResponse, protocol: str, tty: bool) -> None:
        self.ws, self.protocol, self.tty = ws, protocol, tty
        self.stdin_queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.closed = asyncio.Event()

    async def send(self, channel: int, data: bytes) -> None:
        if not data or self.ws.closed:
            return
        if self.tty and channel in (STDOUT, STDERR):
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            channel = STDOUT
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_bytes(bytes([channel]) + data)

    async def stdout(self, data: bytes) -> None:
        await self.send(STDOUT, data)

    async def stderr(self, data: bytes) -> None:
        await self.send(STDERR, data)

    async def read_loop(self) -> None:
        """Feed channel 0 into the stdin queue until the client closes stdin or the socket."""
        try:
            async for msg in self.ws:
                if msg.type in (WSMsgType.BINARY, WSMsgType.TEXT) and msg.data:
                    # The Python client sends str stdin as TEXT frames; kubelets take both.
                    data = msg.data.encode() if isinstance(msg.data, str) else msg.data
                    channel, payload = data[0], bytes(data[1:])
                    if channel == STDIN and payload:
                        await self.stdin_queue.put(payload)
                    elif channel == CLOSE and payload[:1] == bytes([STDIN]):
                        await self.stdin_queue.put(b"")
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.ERROR):
                    break
        finally:
            await self.stdin_queue.put(b"")
            self.closed.set()

    async def finish(self, exit_code: int, argv: list[str]) -> None:
        body = spdyexec.exit_status(exit_code, argv)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_bytes(bytes([ERROR]) + orjson.dumps(body))
            await self.ws.close()


async def _open_channels(request: web.Request) -> _Channels | spdyexec.SpdyChannels:
    if spdyexec.wants_spdy(request):
        return await spdyexec.SpdyChannels.open(
            request, spdyexec.offered_protocol(request) or spdyexec.PROTOCOLS[0])
    protocol = _choose_protocol(request) or CHANNEL_PROTOCOLS[0]
    ws = web.WebSocketResponse(protocols=(protocol,), autoping=True, heartbeat=None,
                               max_msg_size=16 * 1024 * 1024)
    await ws.prepare(request)
    tty = request.query.get("tty", "false").lower() in ("true", "1")
    return _Channels(ws, protocol, tty)


async def serve_pod_exec(request: web.Request, pod: dict[str, Any], lookup: Lookup,
                         attach: bool) -> web.StreamResponse:
    """``…/pods/{name}/exec`` (or ``/attach`` when ``attach``): run a built-in over WebSocket."""
    verb = "attach" if attach else "exec"
    try:
        container = _pick_container(pod, request.query.get("container"))
        argv = request.query.getall("command", [])
        if not attach and not argv:
            raise _Refusal(400, "you must specify at least 1 command")
        refusal = _exec_refusal(request, verb)
        if refusal:
            raise refusal
    except _Refusal as e:
        return e.response()
    if attach:
        namespace, name = _names(pod)
        return await _serve_attach(request, pod, container,
                                   lambda: lookup("pods", namespace, name))
    channels = await _open_channels(request)
    reader = asyncio.create_task(channels.read_loop())
    with_stdin = request.query.get("stdin", "false").lower() in ("true", "1")
    stdin = Input(channels.stdin_queue) if with_stdin else Input()
    view = podshell.build_view(pod, container, lookup)
    proc = Process(view, stdin, channels.stdout, channels.stderr)
    command = asyncio.create_task(podshell.run_command(proc, argv))
    done, _ = await asyncio.wait({command, asyncio.ensure_future(channels.closed.wait())},
                                 return_when=asyncio.FIRST_COMPLETED)
    if command in done:
        await channels.finish(command.result(), argv)
    else:
        command.cancel()
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.gather(command, reader, return_exceptions=True)
    return channels.ws


async def _serve_attach(request: web.Request, pod: dict[str, Any], container: dict[str, Any],
                        get_pod: Callable[[], dict[str, Any] | None] | None = None
                        ) -> web.StreamResponse:
    """Stream heartbeat lines to stdout and echo stdin, until the client or the pod goes."""
    channels = await _open_channels(request)
    reader = asyncio.create_task(channels.read_loop())
    with_stdin = request.query.get("stdin", "false").lower() in ("true", "1")

    async def echo() -> None:
        stdin = Input(channels.stdin_queue)
        while chunk := await stdin.read():
            await channels.stdout(chunk)

    async def beats() -> None:
        interval = _heartbeat_interval(pod)
        n = 0
        while True:
            await asyncio.sleep(interval or POLL_SECONDS)
            if get_pod is not None and get_pod() is None:
                return
            if interval:
                n += 1
                await channels.stdout((_heartbeat_line(n) + "\n").encode())

    tasks = {asyncio.create_task(beats()), asyncio.ensure_future(channels.closed.wait())}
    if with_stdin:
        tasks.add(asyncio.create_task(echo()))
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if not channels.closed.is_set():
        await channels.finish(0, [container.get("name", "")])
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.gather(reader, *pending, return_exceptions=True)
    return channels.ws


# --- pods/portforward -----------------------------------------------------------------------

async def serve_pod_portforward(request: web.Request, pod: dict[str, Any]) -> web.StreamResponse:
    """Refuse port-forward clearly: the sandbox has no pod network to forward to."""
    _, name = _names(pod)
    return _Refusal(400, f"the kgate sandbox does not support port-forward (pod {name} has no "
                         f"network to forward to)").response()
