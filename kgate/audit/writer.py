"""The session log writer: records go in from the event loop, lines come out on a thread.

``SessionLog.submit`` only puts a record on a queue (a few µs on the proxy's event loop); the
writer thread encodes each record into the hash chain (``chain``), appends whole batches with one
``write`` and resolves the acknowledgements callers asked for. Durability, stated plainly:

* *accepted* (what ``submit(..., ack=True)`` waits for) means the line is in the file, i.e. in the
  OS page cache: it survives kgate being killed. The pipeline awaits this for every refused and
  held call before the agent gets its answer.
* records nobody waits on may sit in the queue for ``coalesce`` (5 ms) so they are written in
  batches; a SIGKILL loses those (the exchanges they describe had already ended).
* the file is fsynced at most ``fsync_interval`` (0.2 s) after a write, so a power failure or OS
  crash loses at most the records of the last 0.2 s.
* a signed checkpoint follows every ``checkpoint_every`` records, and ``checkpoint_interval``
  seconds after the last unsigned record, so a crashed session has a signed prefix.

If a write fails (disk full, permissions) the log enters a failed state: ``failure`` says why,
the user is told once through ``notify``, the proxy refuses new calls with 503, and the writer
retries every ``retry_interval``; when it can write again it appends a ``log-gap`` record with
the number of records it lost, and calls go through again.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgate.audit import chain
from kgate.audit.recording import CastFile
from kgate.audit.signing import KeyStore, key_id, sign

Fields = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
Ack = concurrent.futures.Future[None]


class LogUnavailable(Exception):
    """The session log cannot be written; the message says why (no secrets, just the OS error)."""


@dataclass(frozen=True)
class LogSettings:
    fsync_interval: float = 0.2
    checkpoint_every: int = 1000
    checkpoint_interval: float = 1.0
    retry_interval: float = 1.0
    batch: int = 4096
    coalesce: float = 0.005  # how long a batch of unacknowledged records may wait for more


@dataclass(frozen=True)
class SessionInfo:
    """What the start record says about a session."""

    session_id: str
    identity: str
    grant: str | None = None
    policy_hash: str | None = None
    agent_command: list[str] | None = None
    kgate_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class LogFile:
    """The append-only file under the writer (a seam: tests give one that fails like a disk)."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def sync(self) -> None:
        os.fsync(self.fd)

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)

    def close(self) -> None:
        os.close(self.fd)


class _Stop:
    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.fields = fields


class Recording:
    """An exec/attach recording: frames are queued to the writer thread, never buffered whole."""

    def __init__(self, log: SessionLog, path: Path, header: dict[str, Any]) -> None:
        self._log, self.path, self.started = log, path, time.monotonic()
        self.sha256: str | None = None
        self.size = 0
        self._log._put(("rec-open", self, header))

    def event(self, code: str, data: bytes) -> None:
        if data:
            self._log._put(("rec-data", self, (time.monotonic() - self.started, code, data)))

    def close(self) -> None:
        self._log._put(("rec-close", self, None))


class SessionLog:
    """One session's log file, its writer thread and its signed checkpoints."""

    def __init__(self, sessions_dir: Path, info: SessionInfo, keys: KeyStore,
                 settings: LogSettings | None = None,
                 notify: Callable[[str], None] | None = None,
                 open_file: Callable[[Path], LogFile] = LogFile) -> None:
        self.dir = sessions_dir
        self.info = info
        self.path = sessions_dir / f"{info.session_id}.jsonl"
        self.settings = settings or LogSettings()
        self._key = keys.private_key()
        self._key_id = key_id(self._key.public_key())
        self._notify = notify or _to_stderr
        self._open_file = open_file
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"kgate-log-{info.session_id}",
                                        daemon=True)
        self.failure: str | None = None
        self.head: str | None = None  # hash of the last line written
        self.records = 0
        self.counts = {"calls": 0, "denied": 0, "held": 0, "masked": 0}
        self._file: LogFile | None = None
        self._prev = chain.genesis(info.session_id)
        self._offset = 0
        self._dirty_since: float | None = None
        self._last_signed = -1  # seq of the last checkpoint
        self._last_unsigned_at: float | None = None
        self._lost = 0
        self._next_retry = 0.0
        self._recordings = 0
        self._closed = False

    # ------------------------------------------------------------ the event loop's side

    def start(self) -> None:
        """Create the directory and start the writer; the start record is written first."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._thread.start()

    def submit(self, kind: str, fields: Fields, ack: bool = False) -> Ack | None:
        """Queue a record; with ``ack`` a future that resolves once the line is in the file
        (or fails with ``LogUnavailable``)."""
        future: Ack | None = concurrent.futures.Future() if ack else None
        self._queue.put((kind, fields, future))
        return future

    def open_recording(self, label: str, header: dict[str, Any]) -> Recording:
        self._recordings += 1
        rec_dir = self.dir / self.info.session_id
        return Recording(self, rec_dir / f"{label}-{self._recordings}.cast", header)

    def close(self, timeout: float = 30) -> str | None:
        """Write the signed end record, fsync, stop the thread; return the head hash."""
        if self._closed:
            return self.head
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(_Stop({}))
            self._thread.join(timeout)
        return self.head

    def _put(self, item: Any) -> None:
        self._queue.put(item)

    # ------------------------------------------------------------ the writer thread

    def _run(self) -> None:
        self._open()  # the start record goes out at once; a failure shows before any call
        while True:
            try:
                first = self._queue.get(timeout=self._wait())
            except queue.Empty:
                first = None
            items = [] if first is None else [first]
            self._drain(items)
            if items and len(items) < self.settings.batch and not any(map(_urgent, items)):
                # Nobody waits on these: let a few more arrive, so the thread wakes (and takes
                # the GIL from the event loop) once per batch rather than once per record.
                time.sleep(self.settings.coalesce)
                self._drain(items)
            stop = self._process(items)
            self._housekeeping(final=stop is not None)
            if stop is not None:
                break

    def _drain(self, items: list[Any]) -> None:
        while len(items) < self.settings.batch:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return

    def _wait(self) -> float | None:
        """How long the writer may sleep before an fsync, checkpoint or retry is due."""
        now, s = time.monotonic(), self.settings
        due = []
        if self.failure is not None:
            due.append(self._next_retry)
        if self._dirty_since is not None:
            due.append(self._dirty_since + s.fsync_interval)
        if self._last_unsigned_at is not None:
            due.append(self._last_unsigned_at + s.checkpoint_interval)
        return max(0.0, min(due) - now) if due else None

    def _process(self, items: list[Any]) -> _Stop | None:
        stop: _Stop | None = None
        lines: list[bytes] = []
        acks: list[Ack] = []
        if self._file is None and self.failure is None:
            self._open()
        saved = self._state()
        for item in items:
            if isinstance(item, _Stop):
                stop = item
                continue
            if item[0].startswith("rec-"):
                self._recording_op(*item)
                continue
            kind, fields, ack = item
            if self.failure is not None:
                self._lost += 1
                if ack is not None:
                    ack.set_exception(LogUnavailable(self.failure))
                continue
            lines.append(self._line(kind, fields))
            if ack is not None:
                acks.append(ack)
            if self.records - 1 - self._last_signed >= self.settings.checkpoint_every:
                lines.append(self._signed("checkpoint", {}))
        if stop is not None and self.failure is None:
            lines.append(self._signed("end", {**stop.fields, **self.counts, "head": self._prev}))
        if lines and not self._append(b"".join(lines)):
            self._restore(saved)
            self._lost += len(lines)
            for ack in acks:
                ack.set_exception(LogUnavailable(self.failure or "write failed"))
            return stop
        for ack in acks:
            ack.set_result(None)
        return stop

    def _line(self, kind: str, fields: Fields) -> bytes:
        try:
            values = fields() if callable(fields) else fields
            line = chain.encode(self._prev, self.records, kind, values)
        except Exception as err:  # a bug must not stop the log: record that it happened
            line = chain.encode(self._prev, self.records, "log-error",
                                {"t": time.time(), "record": kind, "error": type(err).__name__})
        else:
            if kind == "request":
                self._count(values)
        return self._advance(line)

    def _advance(self, line: bytes) -> bytes:
        self._prev = chain.line_hash(line)
        self.records += 1
        if self._last_unsigned_at is None:
            self._last_unsigned_at = time.monotonic()
        return line + b"\n"

    def _signed(self, kind: str, fields: Mapping[str, Any]) -> bytes:
        body = {**fields, "t": time.time(), "session": self.info.session_id,
                "records": self.records, "key": self._key_id}
        unsigned = chain.encode(self._prev, self.records, kind, body)
        line = chain.encode(self._prev, self.records, kind,
                            {**body, "sig": sign(self._key, unsigned)})
        out = self._advance(line)
        self._last_signed = self.records - 1
        self._last_unsigned_at = None
        return out

    def _count(self, values: Mapping[str, Any]) -> None:
        self.counts["calls"] += 1
        decision = values.get("decision")
        if decision == "deny":
            self.counts["denied"] += 1
        if decision in ("review", "hold") or values.get("hold"):
            self.counts["held"] += 1
        masked = values.get("masked")
        if isinstance(masked, int):
            self.counts["masked"] += masked

    def _state(self) -> tuple[Any, ...]:
        return (self._prev, self.records, dict(self.counts), self._last_signed,
                self._last_unsigned_at)

    def _restore(self, saved: tuple[Any, ...]) -> None:
        (self._prev, self.records, counts, self._last_signed, self._last_unsigned_at) = saved
        self.counts = counts

    def _open(self) -> None:
        """Open the file and write the start record (retried until it works)."""
        try:
            self._file = self._open_file(self.path)
        except OSError as err:
            self._fail(err)
            return
        if self.records == 0:
            info = self.info
            start = {"t": time.time(), "session": info.session_id, "identity": info.identity,
                     "grant": info.grant, "policy": info.policy_hash,
                     "agent": info.agent_command, "kgate": info.kgate_version,
                     "key": self._key_id, "pid": os.getpid(), **info.extra}
            saved = self._state()
            line = self._line("start", {k: v for k, v in start.items() if v is not None})
            if not self._append(line):
                self._restore(saved)

    def _append(self, data: bytes) -> bool:
        assert self._file is not None or self.failure is not None
        if self._file is None:
            return False
        try:
            self._file.write(data)
        except OSError as err:
            with contextlib.suppress(OSError):
                self._file.truncate(self._offset)  # drop a half-written line
            self._fail(err)
            return False
        self._offset += len(data)
        self.head = self._prev
        if self._dirty_since is None:
            self._dirty_since = time.monotonic()
        return True

    def _fail(self, err: OSError) -> None:
        # The reason reaches the agent in the 503: the OS error only, not where the log is.
        reason = err.strerror or type(err).__name__
        if self.failure is None:
            self._notify(f"kgate: the session log cannot be written ({reason}: {self.path}); "
                         "refusing calls until it can")
        self.failure = reason
        self._next_retry = time.monotonic() + self.settings.retry_interval
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _housekeeping(self, final: bool) -> None:
        now = time.monotonic()
        if self.failure is not None and (now >= self._next_retry or final):
            self._recover()
        if self.failure is None and self._last_unsigned_at is not None and (
                now - self._last_unsigned_at >= self.settings.checkpoint_interval):
            saved = self._state()
            if not self._append(self._signed("checkpoint", {})):
                self._restore(saved)
        if self._file is not None and self._dirty_since is not None and (
                final or now - self._dirty_since >= self.settings.fsync_interval):
            try:
                self._file.sync()
                self._dirty_since = None
            except OSError as err:
                self._fail(err)
        if final and self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _recover(self) -> None:
        reason = self.failure
        self.failure = None
        self._open()
        if self.failure is not None:
            return
        saved = self._state()
        gap = self._line("log-gap", {"t": time.time(), "reason": reason, "lost": self._lost})
        if self._append(gap):
            self._notify(f"kgate: the session log is writable again ({self._lost} record(s) "
                         "could not be written meanwhile; a log-gap record says so)")
            self._lost = 0
        else:
            self._restore(saved)

    def _recording_op(self, op: str, rec: Recording, arg: Any) -> None:
        try:
            if op == "rec-open":
                rec.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                rec._cast = CastFile(rec.path, arg)  # type: ignore[attr-defined]
                return
            cast: CastFile | None = getattr(rec, "_cast", None)
            if cast is None:
                return
            if op == "rec-data":
                cast.event(*arg)
            else:
                rec.sha256, rec.size = cast.close(), cast.size
        except OSError as err:
            self._fail(err)


def _urgent(item: Any) -> bool:
    """The end, an acknowledged record, or a recording frame: written without delay."""
    return isinstance(item, _Stop) or item[0].startswith("rec-") or item[2] is not None


def _to_stderr(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
