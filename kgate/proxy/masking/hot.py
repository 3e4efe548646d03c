"""Which strings of one object's raw JSON a detector could fire on: one Rust pass over the bytes
instead of a regex per string.

Every built-in detector needs one of its *anchors* (``AKIA``, ``eyJ``, ``://``, ``pass``,
``token``…) in a string before it can match there (``catalogue.BUILTIN``; ``TextScanner.edits``
returns nothing for a text without one). So the walker scans the raw JSON of each object once
with an Aho-Corasick automaton (``ahocorasick_rs``, over the ASCII-lower-cased bytes, the way the
scanner lower-cases) and collects the strings — values and map keys — that hold an anchor: the
*hot* strings. Only those go through the detectors; every other string is known to be clean.
(Sensitive keys, env names and flags are judged by name as before; known values separately.)

Why the raw bytes can be trusted: without a backslash in the raw JSON, every string is spelled
literally between two quotes (no ``\\u0041`` escapes that could hide an anchor, no ``\\"`` inside a
string), so the text between the quotes around a match *is* the decoded string. A raw form with
any backslash gets no hot set (``None``): the walker then falls back to its conservative checks.
No anchor contains a quote, so a match never spans two strings. Custom detectors (regexes
without anchors) also disable it.
"""

from __future__ import annotations

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
        self._enabled = not settings.custom
        self._ac = BytesAhoCorasick(sorted(anchors)) if anchors else None

    def scan(self, data: bytes) -> frozenset[str] | None:
        """The hot strings of ``data``; ``None`` if the raw form cannot vouch for its strings
        (escapes, custom detectors, not UTF-8): every string is then suspect."""
        if not self._enabled or b"\\" in data:
            return None
        if self._ac is None:
            return frozenset()
        hot: set[str] = set()
        end = -1
        rfind, find = data.rfind, data.find
        for _, s, e in self._ac.find_matches_as_indexes(data.lower()):
            if s < end:
                continue            # inside the string already collected
            q0 = rfind(b'"', 0, s)
            q1 = find(b'"', e)
            if q1 < 0:
                return None         # not JSON as expected: be conservative
            try:
                hot.add(data[q0 + 1:q1].decode())
            except UnicodeDecodeError:
                return None
            end = q1
        return frozenset(hot)
