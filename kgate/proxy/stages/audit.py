"""Audit: the seam between the pipeline and the session log.

The pipeline never waits on disk for an allowed call: ``record`` queues the finished exchange and
returns. For a refused (or held) call it awaits ``record_now`` — the log writer has *accepted*
the record (it is in the file) — before the agent gets the answer, so no denial goes unrecorded.
``unavailable`` tells the pipeline the log cannot be written; new calls are then refused with 503
(fail closed). ``recorder`` gives the relay a hook for exec/attach frames (recorded after
masking, exactly as the agent saw them). ``keeps_bodies`` says whether a masked copy of write
bodies is wanted at all: with ``NoAudit`` none is made.

``SessionLogAudit`` is the real sink (``kgate.audit``); ``NoAudit`` records nothing; ``MemoryAudit``
keeps exchanges in memory for tests.
"""

from __future__ import annotations

import asyncio
import getpass
import sqlite3
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import orjson

from kgate import __version__
from kgate.audit.signing import FileKeyStore, KeyStore
from kgate.audit.writer import LogSettings, LogUnavailable, Recording, SessionInfo, SessionLog
from kgate.proxy.engine import StreamRecorder
from kgate.proxy.errors import Refusal
from kgate.proxy.session import Exchange

BODY_CAP = 16 * 1024
LOG_RULE = "session-log"
_REC_CHANNELS = {0: "i", 1: "o", 2: "o"}


class AuditSink(Protocol):
    @property
    def keeps_bodies(self) -> bool:
        """Whether the pipeline should make a masked copy of request bodies for the log."""
        ...

    def unavailable(self) -> str | None:
        """Why nothing can be recorded right now (calls are then refused), or None."""
        ...

    def record(self, exchange: Exchange) -> None:
        """Queue a finished exchange; never blocks."""
        ...

    async def record_now(self, exchange: Exchange) -> None:
        """Record and wait until the log accepted it; ``LogUnavailable`` if it cannot."""
        ...

    def stream_opened(self, exchange: Exchange) -> None:
        """A streamed or upgraded exchange has started (its request record comes at close)."""
        ...

    def recorder(self, exchange: Exchange) -> StreamRecorder | None:
        """A recorder for an exec/attach stream, or None."""
        ...

    def record_event(self, kind: str, **fields: Any) -> Awaitable[None]:
        """A session event from another component (hold, approval, grant expiry…)."""
        ...

    async def close(self) -> None: ...


def log_refusal(reason: str) -> Refusal:
    return Refusal(503, f"the session log cannot be written ({reason}); refusing calls until "
                        "it can", rule=LOG_RULE)


async def _done() -> None:
    return None


class NoAudit:
    """No session log configured: nothing is recorded and no masked body copy is made."""

    keeps_bodies = False

    def unavailable(self) -> str | None:
        return None

    def record(self, exchange: Exchange) -> None:
        return None

    async def record_now(self, exchange: Exchange) -> None:
        return None

    def stream_opened(self, exchange: Exchange) -> None:
        return None

    def recorder(self, exchange: Exchange) -> StreamRecorder | None:
        return None

    def record_event(self, kind: str, **fields: Any) -> Awaitable[None]:
        return _done()

    async def close(self) -> None:
        return None


class MemoryAudit(NoAudit):
    """Keeps the last ``limit`` exchanges (and events) in memory: for tests."""

    keeps_bodies = True

    def __init__(self, limit: int = 10_000) -> None:
        self.exchanges: deque[Exchange] = deque(maxlen=limit)
        self.events: deque[tuple[str, dict[str, Any]]] = deque(maxlen=limit)

    def record(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)

    async def record_now(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)

    def record_event(self, kind: str, **fields: Any) -> Awaitable[None]:
        self.events.append((kind, fields))
        return _done()


class _LogRecorder:
    def __init__(self, sink: SessionLogAudit, exchange: Exchange, recording: Recording) -> None:
        self._sink, self._exchange, self._rec = sink, exchange, recording

    def output(self, channel: int, payload: bytes) -> None:
        if channel in (1, 2):
            self._rec.event("o", payload)
        elif channel == 4:  # resize: {"Width": w, "Height": h}
            try:
                size = orjson.loads(payload)
                self._rec.event("r", f"{int(size['Width'])}x{int(size['Height'])}".encode())
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                pass

    def input(self, channel: int, payload: bytes) -> None:
        if channel == 0:
            self._rec.event("i", payload)
        elif channel == 4:
            self.output(channel, payload)

    def close(self) -> None:
        rec = self._rec
        rec.close()
        self._sink.log.submit("stream-close", lambda: {
            "t": _now(), "stream": self._exchange.id, "recording": _relative(rec.path),
            "recording_sha256": rec.sha256, "recording_bytes": rec.size})


class SessionLogAudit:
    """The real sink: the hash-chained, signed session log of ``kgate.audit``."""

    keeps_bodies = True

    def __init__(self, log: SessionLog, body_cap: int = BODY_CAP) -> None:
        self.log = log
        self.body_cap = body_cap

    def unavailable(self) -> str | None:
        return self.log.failure

    def record(self, exchange: Exchange) -> None:
        self.log.submit("request", lambda: request_fields(exchange, self.body_cap))

    async def record_now(self, exchange: Exchange) -> None:
        ack = self.log.submit("request", request_fields(exchange, self.body_cap), ack=True)
        assert ack is not None
        await asyncio.wrap_future(ack)

    def stream_opened(self, exchange: Exchange) -> None:
        fields = request_fields(exchange, self.body_cap)
        for key in ("ms", "bytes_out", "masked"):
            fields.pop(key, None)
        self.log.submit("stream-open", {**fields, "stream": exchange.id})

    def recorder(self, exchange: Exchange) -> StreamRecorder | None:
        attrs = exchange.attributes
        title = exchange.kubectl_command or f"{exchange.method} {exchange.raw_path}"
        label = attrs.subresource if attrs is not None else "stream"
        recording = self.log.open_recording(label, {"timestamp": int(exchange.started),
                                                    "title": title[:200]})
        exchange.recording = _relative(recording.path)
        return _LogRecorder(self, exchange, recording)

    def record_event(self, kind: str, **fields: Any) -> Awaitable[None]:
        if kind in ("start", "request", "checkpoint", "end", "log-gap"):
            raise ValueError(f"{kind!r} records are written by the log itself")
        ack = self.log.submit(kind, {"t": _now(), **fields}, ack=True)
        assert ack is not None
        return asyncio.wrap_future(ack)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._seal)

    def _seal(self) -> None:
        from kgate.audit.index import SessionIndex

        self.log.close()
        try:
            SessionIndex.note_sealed(self.log.dir.parent, self.log)
        except sqlite3.Error as err:
            _warn(f"kgate: could not record the seal of session {self.log.info.session_id} in "
                  f"the index ({err}); truncation of this log can then go unnoticed")


def request_fields(ex: Exchange, body_cap: int = BODY_CAP) -> dict[str, Any]:
    """One request record: what was asked, what kgate decided, what came back (no values).

    Written out field by field (no tables of optional keys): this runs for every call, on the
    log's writer thread, and the key set it yields is the record format."""
    out: dict[str, Any] = {"t": round(ex.started, 6), "method": ex.method, "path": ex.raw_path,
                           "status": ex.status, "decision": ex.decision, "id": ex.id}
    if ex.ended is not None:
        out["ms"] = round((ex.ended - ex.started) * 1000, 3)
    a = ex.attributes
    if a is not None:
        out["verb"] = a.verb
        if a.api_group:
            out["group"] = a.api_group
        if a.api_version:
            out["version"] = a.api_version
        if a.resource:
            out["resource"] = a.resource
        if a.subresource:
            out["subresource"] = a.subresource
        if a.namespace:
            out["namespace"] = a.namespace
        if a.name:
            out["name"] = a.name
        if a.label_selector:
            out["label_selector"] = a.label_selector
        if a.field_selector:
            out["field_selector"] = a.field_selector
        if a.dry_run:
            out["dry_run"] = True
    if ex.rule is not None:
        out["rule"] = ex.rule
    if ex.message is not None:
        out["message"] = ex.message
    if ex.kubectl_command is not None:
        out["command"] = ex.kubectl_command
    if ex.kubectl_session is not None:
        out["kubectl_session"] = ex.kubectl_session
    if ex.impersonate_user is not None:
        out["impersonate"] = ex.impersonate_user
    if ex.hold_id is not None:
        out["hold"] = ex.hold_id
    if ex.approved_by is not None:
        out["approval"] = ex.approved_by
    if ex.recording is not None:
        out["recording"] = ex.recording
    if ex.upstream_status is not None:
        out["upstream_status"] = ex.upstream_status
    if ex.bytes_in:
        out["bytes_in"] = ex.bytes_in
    if ex.bytes_out:
        out["bytes_out"] = ex.bytes_out
    if ex.masked:
        out["masked"] = ex.masked
    if ex.upgraded:
        out["upgraded"] = True
    if ex.body is not None:
        out["body_sha256"] = ex.body.sha256
        if ex.body.kind:
            out["body_kind"] = ex.body.kind
    if ex.body_log is not None:
        out["body"] = _capped(ex.body_log, body_cap)
    return out


def _capped(body: Any, cap: int) -> Any:
    """The masked body, or its first ``cap`` bytes as text when it is larger."""
    try:
        encoded = orjson.dumps(body)
    except TypeError:
        return {"unencodable": True}
    if len(encoded) <= cap:
        return body
    return {"truncated": True, "bytes": len(encoded),
            "head": encoded[:cap].decode("utf-8", "ignore")}


def _relative(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _now() -> float:
    return round(time.time(), 6)


def open_session_log(home: Path, session_id: str, *, grant: str | None = None,
                     policy_hash: str | None = None, agent_command: list[str] | None = None,
                     identity: str | None = None, keys: KeyStore | None = None,
                     settings: LogSettings | None = None,
                     notify: Callable[[str], None] | None = None,
                     **kw: Any) -> SessionLogAudit:
    """Start the session log for one proxy run and index it; the sink the pipeline uses."""
    from kgate.audit.index import SessionIndex

    info = SessionInfo(session_id=session_id, identity=identity or f"local:{getpass.getuser()}",
                       grant=grant, policy_hash=policy_hash, agent_command=agent_command,
                       kgate_version=__version__)
    log = SessionLog(home / "sessions", info, keys or FileKeyStore(home), settings, notify, **kw)
    log.start()
    try:
        SessionIndex.note_started(home, log)
    except sqlite3.Error as err:  # the JSONL is the truth; the index can be rebuilt
        (notify or _warn)(f"kgate: could not index session {session_id} ({err}); "
                          "'kgate sessions reindex' rebuilds the index from the log")
    return SessionLogAudit(log)


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


__all__ = ["AuditSink", "LogUnavailable", "MemoryAudit", "NoAudit", "SessionLogAudit",
           "StreamRecorder", "log_refusal", "open_session_log", "request_fields"]
