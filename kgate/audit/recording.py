"""exec/attach recordings as asciicast v2 files: written as frames come, replayed with timing.

A recording holds exactly what the agent's terminal saw — output frames *after* masking — plus
what the agent typed (``"i"`` events) and terminal resizes (``"r"``). One header line, then one
JSON array per event: ``[seconds since start, code, text]``. Files are 0600 under
``$KGATE_HOME/sessions/<s-id>/`` and are named, with their sha256, by the session log's
``stream-close`` record, so ``verify`` notices an edited recording.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import orjson

STDIN, STDOUT, STDERR, RESIZE = 0, 1, 2, 4


class CastFile:
    """One asciicast v2 file being written (by the log's writer thread only)."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb", buffering=64 * 1024)
        self._sha = hashlib.sha256()
        self.size = 0
        # Frames split multi-byte characters; decode each direction incrementally.
        self._decoders = {code: codecs.getincrementaldecoder("utf-8")("replace")
                          for code in ("o", "i")}
        self._write(orjson.dumps({"version": 2, "width": 80, "height": 24, **header}))

    def _write(self, line: bytes) -> None:
        data = line + b"\n"
        self._sha.update(data)
        self.size += len(data)
        self._file.write(data)

    def event(self, at: float, code: str, data: bytes) -> None:
        decoder = self._decoders.get(code)
        text = decoder.decode(data) if decoder is not None else data.decode("utf-8", "replace")
        if text:
            self._write(orjson.dumps([round(at, 6), code, text]))

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> str:
        """Flush, fsync and close; return the file's sha256."""
        for code, decoder in self._decoders.items():
            tail = decoder.decode(b"", final=True)
            if tail:
                self._write(orjson.dumps([0.0, code, tail]))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self._sha.hexdigest()


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def events(path: Path) -> Iterator[tuple[float, str, str]]:
    """The events of a cast file, read line by line (never the whole file)."""
    with open(path, "rb") as f:
        f.readline()  # header
        for line in f:
            try:
                at, code, text = orjson.loads(line)
            except (orjson.JSONDecodeError, ValueError):
                continue
            yield float(at), str(code), str(text)


def play(path: Path, out: TextIO | None = None, speed: float = 1.0, wait: bool = True,
         max_pause: float = 2.0) -> int:
    """Print the output events with their timing (pauses capped at ``max_pause``); return count."""
    out = out or sys.stdout
    last, shown = 0.0, 0
    for at, code, text in events(path):
        if code != "o":
            continue
        if wait and at > last:
            time.sleep(min(at - last, max_pause) / max(speed, 0.01))
        last = max(last, at)
        out.write(text)
        out.flush()
        shown += 1
    return shown
