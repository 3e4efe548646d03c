"""The hash chain: how a record becomes one line of a session log, and how the chain is walked.

Canonical encoding of a record (one line, ``\\n``-terminated)::

    {"prev":"<sha256 hex of the previous line>","seq":<n>,"kind":"<kind>",<other keys, sorted>}

The three chain fields come first, in this order, so a verifier can check a line by slicing
fixed offsets instead of parsing JSON; the rest is ``orjson.dumps(..., OPT_SORT_KEYS)``, which is
deterministic. ``prev`` is the sha256 of the previous line's bytes (with its newline); the first
line's ``prev`` is the *genesis* hash of the session id, so a log cannot be re-headed onto another
session. Any edited, deleted, inserted or reordered line breaks the ``prev`` of the line after it;
signed checkpoint and end records (``signing``) pin the head, so a rewritten tail is caught too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

PREFIX = b'{"prev":"'
HASH_END = len(PREFIX) + 64  # the prev hex ends here
SEQ_AT = HASH_END + len(b'","seq":')
KIND_KEY = b',"kind":"'
_KIND = re.compile(r"[a-z][a-z0-9-]{0,39}")
#: Kinds the writer alone may write: ``record_event`` callers cannot forge them.
RESERVED_KINDS = frozenset({"start", "request", "checkpoint", "end", "log-gap"})
CHAIN_FIELDS = frozenset({"prev", "seq", "kind"})
_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_KINDS: dict[str, bytes] = {}


def genesis(session_id: str) -> str:
    """The ``prev`` of a session's first record."""
    return hashlib.sha256(b"kgate-session-log/v1 " + session_id.encode()).hexdigest()


# Copying a prepared sha256 object skips OpenSSL's per-call algorithm lookup, which costs more
# than hashing a few hundred bytes (2–3× faster per line).
_SHA256 = hashlib.sha256()


def line_hash(line: bytes) -> str:
    """sha256 hex of one line as written, newline included (added if ``line`` lacks it)."""
    h = _SHA256.copy()
    h.update(line)
    if line[-1:] != b"\n":
        h.update(b"\n")
    return h.hexdigest()


def encode(prev: str, seq: int, kind: str, fields: Mapping[str, Any]) -> bytes:
    """The canonical line (without its newline) for one record."""
    kind_bytes = _KINDS.get(kind)
    if kind_bytes is None:
        if not _KIND.fullmatch(kind):
            raise ValueError(f"bad record kind {kind!r}")
        kind_bytes = _KINDS[kind] = b'%s%s"' % (KIND_KEY, kind.encode())
    if "prev" in fields or "seq" in fields or "kind" in fields:
        raise ValueError("prev, seq and kind are set by the chain")
    rest = orjson.dumps(fields, option=_SORTED)
    return b"".join((PREFIX, prev.encode(), b'","seq":', str(seq).encode(), kind_bytes,
                     b"}" if len(rest) <= 2 else b"," + rest[1:]))


def decode(line: bytes) -> dict[str, Any]:
    """A line parsed back into a dict (raises ``ValueError`` if it is not a JSON object)."""
    record = orjson.loads(line)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    return record


def without(record: Mapping[str, Any], key: str) -> bytes:
    """Re-encode ``record`` minus ``key`` canonically (what a signature covers)."""
    fields = {k: v for k, v in record.items() if k not in CHAIN_FIELDS and k != key}
    return encode(str(record["prev"]), int(record["seq"]), str(record["kind"]), fields)


def peek_kind(line: bytes) -> bytes | None:
    """The kind of a canonical line, read by offsets (None if the line is not canonical)."""
    at = line.find(KIND_KEY, SEQ_AT, SEQ_AT + 24)
    if at < 0:
        return None
    start = at + len(KIND_KEY)
    end = line.find(b'"', start, start + 48)
    return line[start:end] if end > 0 else None


def whole_lines(path: Path, offset: int = 0) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """Each whole line of a log from ``offset`` on, with its record parsed (``{}`` when a line
    is not a JSON object); a torn last line (no newline yet) is left for later."""
    with open(path, "rb") as f:
        f.seek(offset)
        for line in f:
            if not line.endswith(b"\n"):
                return
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                record = {}
            yield line, record if isinstance(record, dict) else {}
