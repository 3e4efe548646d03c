"""Which strings of one object's raw JSON a detector could fire on: one Rust pass over the bytes
instead of a regex per string.

Every built-in detector needs one of its *anchors* (``AKIA``, ``eyJ``, ``://``, ``pass``,
``token``…) in a string before it can match there (``catalogue.BUILTIN``; ``TextScanner.edits``
returns nothing for a text without one). So the walker scans the raw JSON of each object once
with an Aho-Corasick automaton (``ahocorasick_rs``, over the ASCII-lower-cased bytes, the way the
scanner lower-cases) and collects the strings — values and map keys — that hold an anchor: the
*hot* strings. Only those go through the detectors; every other string is known to be clean.
(Sensitive keys, env names and flags are judged by name as before; known values separately.)

Why the raw bytes can be trusted: no anchor contains a quote, a backslash, a slash or a control
character — the only characters JSON writes as escapes besides ``\\uXXXX`` — so an anchor in a
decoded string is spelled literally in the raw bytes unless the raw form uses ``\\u`` or ``\\/``;
a raw form with either gets no hot set (``None``) and the walker falls back to its conservative
checks. Other escapes (``\\"``, ``\\n``, ``\\\\`` — every ``last-applied-configuration`` annotation
has them) only move the string's quotes: they are found by skipping escaped quotes, and the
string is decoded before it goes in the set. A match never spans two strings (no quote in an
anchor). Custom detectors (regexes without anchors) disable the hot set.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator

import orjson
from ahocorasick_rs import BytesAhoCorasick

from .catalogue import BUILTIN
from .settings import MaskingSettings


class HotStrings:
    """Finds the hot strings of raw JSON objects (see the module docstring)."""

    def __init__(self, settings: MaskingSettings) -> None:
        anchors: set[bytes] = set()
        for name in settings.detectors:
            for detector in BUILTIN[name]:
                anchors.update(a.lower().encode() for a in (*detector.exact, *detector.lower))
        #: Every anchor, lower-cased (``clean`` scans for them too).
        self.anchors = frozenset(anchors)
        # An anchor holding a character JSON must escape could hide behind the escape: no hot
        # set. ('/' may be escaped as well, and the assignment detector's ``\\u00`` anchor is
        # written ``\\\\u00`` in JSON: a raw form with ``\\u`` or ``\\/`` gets none, see ``scan``.)
        self._enabled = not settings.custom and not any(
            c in a.replace(b"\\u", b"") for a in anchors for c in b'"\\' + bytes(range(0x20)))
        self._ac = BytesAhoCorasick(sorted(anchors)) if anchors else None
        self._any = re.compile(b"|".join(re.escape(a) for a in sorted(anchors, key=len,
                                                                   reverse=True))) \
            if anchors else None

    @property
    def enabled(self) -> bool:
        """False when the raw form can never vouch for its strings (custom detectors)."""
        return self._enabled

    def scan(self, data: bytes) -> frozenset[str] | None:
        """The hot strings of ``data``; ``None`` if the raw form cannot vouch for its strings
        (escapes, custom detectors, not UTF-8): every string is then suspect."""
        if not self._enabled:
            return None
        escaped = b"\\" in data
        if escaped and (b"\\u" in data or b"\\/" in data):
            return None
        if self._ac is None:
            return frozenset()
        lowered = data.lower()
        if len(data) > DENSE_SAMPLE * 2 and self._any is not None and len(
                self._ac.find_matches_as_indexes(lowered[:DENSE_SAMPLE])) > DENSE_MATCHES:
            return self._by_string(data, lowered, escaped)
        hot: set[str] = set()
        for q0, q1 in strings_at(data, self._ac.find_matches_as_indexes(lowered)):
            if q0 < 0:
                return None         # not JSON as expected: be conservative
            raw = data[q0 + 1:q1]
            try:
                hot.add(orjson.loads(data[q0:q1 + 1]) if escaped and b"\\" in raw
                        else raw.decode())
            except (UnicodeDecodeError, orjson.JSONDecodeError):
                return None
        return frozenset(hot)

    def _by_string(self, data: bytes, lowered: bytes, escaped: bool) -> frozenset[str] | None:
        """Anchor-dense text (a 1 MB value of ``AKIA…``): listing every match costs more than
        asking each string once whether it holds any anchor (the first match ends the search)."""
        assert self._any is not None
        hot: set[str] = set()
        search = self._any.search
        for m in _JSON_STRING.finditer(data):
            s, e = m.span(1)
            if search(lowered, s, e) is None:
                continue
            raw = m.group(1)
            try:
                hot.add(orjson.loads(m.group(0)) if escaped and b"\\" in raw else raw.decode())
            except (UnicodeDecodeError, orjson.JSONDecodeError):
                return None
        return frozenset(hot)


#: Sampling the first 64 KiB: more than one anchor per 32 bytes there means dense text.
DENSE_SAMPLE = 64 * 1024
DENSE_MATCHES = DENSE_SAMPLE // 32
_JSON_STRING = re.compile(rb'"([^"\\]*(?:\\.[^"\\]*)*)"', re.DOTALL)  # unrolled: linear, fast


def strings_at(data: bytes, matches: list[tuple[int, int, int]]
               ) -> Iterator[tuple[int, int]]:
    """(opening quote, closing quote) of each JSON string of ``data`` that holds one of
    ``matches`` (automaton matches, by start), once per string; ``(-1, -1)`` — and nothing
    after it — where a match is not inside a string as JSON would have it.

    Dense text (a 1 MB value of ``AKIA…``) holds hundreds of thousands of matches in a few
    strings: each string is left by bisection, not match by match."""
    escaped = b"\\" in data
    starts = [m[1] for m in matches]
    rfind, find = data.rfind, data.find
    i, n = 0, len(matches)
    while i < n:
        _, s, e = matches[i]
        if escaped:
            q0, q1 = open_quote(data, s), close_quote(data, e)
        else:
            q0, q1 = rfind(b'"', 0, s), find(b'"', e)
        if q0 < 0 or q1 < 0:
            yield -1, -1
            return
        yield q0, q1
        i = bisect_left(starts, q1, i + 1)   # the first match after the string's end


def is_escaped(data: bytes, quote: int) -> bool:
    """Whether the quote at ``quote`` is preceded by an odd run of backslashes."""
    i = quote - 1
    while i >= 0 and data[i] == 0x5C:
        i -= 1
    return (quote - 1 - i) % 2 == 1


def open_quote(data: bytes, pos: int) -> int:
    """The unescaped quote that opens the string holding ``pos`` (-1 if none)."""
    q = data.rfind(b'"', 0, pos)
    while q >= 0 and is_escaped(data, q):
        q = data.rfind(b'"', 0, q)
    return q


def close_quote(data: bytes, pos: int) -> int:
    """The unescaped quote that closes the string holding ``pos`` (-1 if none)."""
    q = data.find(b'"', pos)
    while q >= 0 and is_escaped(data, q):
        q = data.find(b'"', q + 1)
    return q
