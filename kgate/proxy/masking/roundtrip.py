"""Round-trip protection: refuse request bodies that write a placeholder back.

An agent that reads a masked Secret, edits it and applies it would overwrite real data with
``kgate:masked:…``. The proxy counts placeholders in create/update/patch/apply bodies and answers
422 when there are any. Placeholders can arrive raw (JSON, YAML, JSON/merge patch, protobuf
strings) or base64-encoded (Secret ``data`` in JSON/YAML, or inside other base64 text). A base64
encoding of the prefix has three alignments; for each, the middle of the encoding does not depend
on the neighbouring bytes, so three fixed needles find it anywhere — in text and protobuf alike.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from .placeholders import PREFIX_BYTES


def _stable_needles(prefix: bytes) -> tuple[bytes, ...]:
    """For each alignment, the base64 characters that do not depend on neighbouring bytes."""
    needles = []
    for shift in range(3):
        variants = [
            base64.b64encode(bytes([fill]) * shift + prefix + bytes([tail]) * 3)
            for fill in (0x00, 0xFF) for tail in (0x00, 0xFF)
        ]
        first = variants[0]
        stable = [all(v[i] == first[i] for v in variants) for i in range(len(first))]
        # the longest run of positions that agree across all neighbours
        best, run_start, best_span = 0, 0, (0, 0)
        for i, ok in enumerate([*stable, False]):
            if not ok:
                if i - run_start > best:
                    best, best_span = i - run_start, (run_start, i)
                run_start = i + 1
        needles.append(first[best_span[0]:best_span[1]])
    return tuple(needles)


BASE64_NEEDLES: tuple[bytes, ...] = _stable_needles(PREFIX_BYTES)
BASE64URL_NEEDLES: tuple[bytes, ...] = tuple(
    n.replace(b"+", b"-").replace(b"/", b"_") for n in BASE64_NEEDLES
)
_IGNORED = b" \t\r\n\\"   # whitespace (wrapped base64, YAML folding) and JSON escapes


def count_placeholders(body: bytes, *, json_escapes: bool = True) -> int:
    """How many placeholders ``body`` holds, raw or base64 at any alignment (0 = safe to send).

    ``json_escapes``: when nothing is found, also parse ``body`` as JSON and count in its
    decoded strings (``\\u`` escapes). Callers that already hold the decoded document and walk
    it (``writeback``, ``protobody``) pass False: the bytes are then scanned, not parsed again.
    """
    if not body:
        return 0
    n = body.count(PREFIX_BYTES)
    compact = body.translate(None, _IGNORED)
    needles = set(BASE64_NEEDLES) | set(BASE64URL_NEEDLES)
    n += sum(compact.count(needle) for needle in needles)
    if n == 0 and json_escapes and b"\\u" in body:
        n = _escaped_json(body)
    return n


def _escaped_json(body: bytes) -> int:
    """JSON may spell the prefix with ``\\u`` escapes; decode strings and count again."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 0
    return sum(count_placeholders(s.encode("utf-8", "surrogatepass")) for s in _strings(doc))


def _strings(doc: Any) -> list[str]:
    out: list[str] = []
    stack = [doc]
    while stack:
        d = stack.pop()
        if isinstance(d, str):
            out.append(d)
        elif isinstance(d, dict):
            out.extend(k for k in d if isinstance(k, str))
            stack.extend(d.values())
        elif isinstance(d, list):
            stack.extend(d)
    return out
