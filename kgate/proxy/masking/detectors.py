"""The text scanner: finds secrets in ConfigMap values, annotations, events, logs, exec output.

A ``TextScanner`` turns text into a list of *edits* (span, replacement, placeholder) and applies
them. Working with edits rather than ``re.sub`` lets the streaming code mask a window of a line
whose beginning was already emitted (``mask(text, lo, hi)``) without leaking the part of a secret
that straddles the window's edge. What each detector looks for, and how a match becomes an edit,
is in ``catalogue``; this module decides where to look and settles the edits.

Speed: most text contains none of the detectors' keywords (their *anchors*). One Aho-Corasick
pass over the lower-cased text (``ahocorasick_rs``, Rust) finds every anchor at once — 3-4x
faster than a substring search per anchor on long values and log chunks — and only the
detectors whose anchor was seen run their regex, at the position the anchor implies.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ahocorasick_rs import AhoCorasick

from .catalogue import (
    BUILTIN,
    KEY_CHARS,
    MAX_KEY,
    SCHEME_CHARS,
    DetectorHandlers,
    Edit,
    Handler,
    is_reference,
    key_is_sensitive,
)
from .known import KnownValues
from .placeholders import PLACEHOLDER_RE, PREFIX, Placeholders
from .settings import DETECTOR_NAMES, MaskingSettings

# Imported by the masker and the tests from here; they live in ``catalogue``.
__all__ = ["Edit", "TextScanner", "is_reference", "key_is_sensitive"]

#: Values up to this length (annotations, env, cells) skip the automaton when no anchor occurs.
_SHORT = 512


class TextScanner:
    """Finds and masks secrets in text, under one settings object and one placeholder key."""

    def __init__(self, settings: MaskingSettings, placeholders: Placeholders,
                 known: KnownValues | None = None) -> None:
        self._ph = placeholders
        #: Secret values seen in structured places, masked again wherever they occur in text.
        self.known = known
        self._custom = [(name, re.compile(rx)) for name, rx in settings.custom]
        handlers = DetectorHandlers(placeholders)
        self._handlers = handlers
        # anchor -> [(regex, handler, back)] in documented detector order
        self._exact: dict[str, list[_Probe]] = {}
        self._lower: dict[str, list[_Probe]] = {}
        for name in DETECTOR_NAMES:
            if name not in settings.detectors:
                continue
            for detector in BUILTIN[name]:
                handler = handlers.of(detector)
                regex = re.compile(detector.regex)
                back = "scheme" if detector.back == "scheme" else ""
                for a in detector.exact:
                    self._exact.setdefault(a, []).append(_Probe(regex, handler, back))
                for a in detector.lower:
                    self._lower.setdefault(a, []).append(_Probe(regex, handler, "key"))
        # a lower-case anchor that contains another (``aws_secret`` ⊃ ``secret``) tries both
        for a, probes in self._lower.items():
            for b, others in self._lower.items():
                if b != a and b in a:
                    probes.extend(p for p in others if p not in probes)
        # One automaton over every anchor, lower-cased; exact anchors are re-checked against the
        # original text. ``_anchors[i]`` lists what pattern i stands for, in the order the
        # detectors are tried (exact before lower-case, then documented detector order).
        groups: dict[str, list[tuple[int, str, list[_Probe], bool]]] = {}
        ranked = [(a, p, True) for a, p in self._exact.items()] + \
                 [(a, p, False) for a, p in self._lower.items()]
        for rank, (anchor, probes, cased) in enumerate(ranked):
            groups.setdefault(anchor.lower(), []).append((rank, anchor, probes, cased))
        self._patterns = list(groups)
        self._anchors = [groups[p] for p in self._patterns]
        self._ac = AhoCorasick(self._patterns) if self._patterns else None
        self._enabled = bool(self._exact or self._lower or self._custom)
        # Short values (annotations, env, cells) are the common case in objects: one regex
        # search over the lower-cased value rejects them faster than a loop of substring tests.
        anchors = sorted({a.lower() for a in self._exact} | set(self._lower), key=len,
                         reverse=True)
        self._any = re.compile("|".join(map(re.escape, anchors))) if anchors else None

    @property
    def enabled(self) -> bool:
        """False only when no detector runs and no secret value is known yet."""
        return self._enabled or bool(self.known)

    # -- public ------------------------------------------------------------------------------

    def might_match(self, text: str) -> bool:
        """Cheap pre-check: False means ``edits(text)`` is certainly empty.

        Callers join many short values (a table row's cells, a container's env) and check once.
        """
        if self._custom:
            return True
        if self.known and self.known.find(text):
            return True
        if self._any is None:
            return False
        low = text.lower() if text.isascii() else _ascii_lower(text)
        return self._any.search(low) is not None

    def mask(self, text: str, lo: int = 0, hi: int | None = None) -> tuple[str, int]:
        """Masked ``text[lo:hi]`` and the number of values replaced.

        Detectors see all of ``text``; an edit that began before ``lo`` (already emitted by a
        streaming caller) has its remainder replaced by its placeholder, an edit running past
        ``hi`` is replaced whole here.
        """
        if hi is None:
            hi = len(text)
        edits = self.edits(text)
        if not edits:
            return (text if lo == 0 and hi == len(text) else text[lo:hi]), 0
        out: list[str] = []
        pos, count = lo, 0
        for e in edits:
            if e.end <= lo or e.start >= hi or e.end <= pos:
                continue
            if e.start >= lo:
                out.append(text[pos:e.start])
                out.append(e.repl)
            else:
                out.append(e.ph)
            count += 1
            pos = min(e.end, hi)
        out.append(text[pos:hi])
        return "".join(out), count

    def edits(self, text: str) -> list[Edit]:
        """All edits for ``text``, sorted and non-overlapping."""
        if len(text) < 5:
            return []
        edits = self._known_edits(text) if self.known else []
        low: str | None = None
        if len(text) <= _SHORT and not self._custom:
            if self._any is None:
                return self._settle(text, edits)
            low = text.lower() if text.isascii() else _ascii_lower(text)
            if self._any.search(low) is None:
                return self._settle(text, edits)
        starts: list[tuple[int, _Probe]] = []
        if self._ac is not None:
            if low is None:
                low = text.lower() if text.isascii() else _ascii_lower(text)
            starts = self._anchor_starts(text, low)
        if starts:
            self._handlers.begin()
            self._probe(text, starts, edits)
        for _name, rx in self._custom:
            for m in rx.finditer(text):
                edit = self._handlers.custom(m)
                if edit is not None:
                    edits.append(edit)
        return self._settle(text, edits)

    def _settle(self, text: str, edits: list[Edit]) -> list[Edit]:
        """Drop edits inside existing placeholders; sort and merge overlapping ones."""
        if not edits:
            return edits
        if PREFIX in text:
            edits = self._drop_placeholders(text, edits)
        return self._merge(text, edits) if len(edits) > 1 else edits

    def _known_edits(self, text: str) -> list[Edit]:
        assert self.known is not None
        edits = []
        for start, end in self.known.find(text):
            ph = self._ph.of_text(text[start:end])
            edits.append(Edit(start, end, ph, ph))
        return edits

    def _anchor_starts(self, text: str, low: str) -> list[tuple[int, _Probe]]:
        """(position, probe) for each anchor occurrence, as a per-anchor scan would find them:
        non-overlapping per anchor, ordered by position, then detector order."""
        assert self._ac is not None
        found: list[tuple[int, int, int, _Probe]] = []
        next_free: dict[int, int] = {}
        # The automaton needs valid UTF-8 and we need character offsets: plain ASCII (nearly
        # all logs and configs) goes through it, anything else through a find() per anchor.
        matches = (self._ac.find_matches_as_indexes(low, overlapping=True) if low.isascii()
                   else _find_each(self._patterns, low))
        for index, start, end in matches:
            for rank, anchor, probes, cased in self._anchors[index]:
                if start < next_free.get(rank, 0):
                    continue
                if cased and not text.startswith(anchor, start):
                    continue
                next_free[rank] = end
                found.extend((start, rank, i, p) for i, p in enumerate(probes))
        found.sort(key=lambda f: f[:3])
        return [(f[0], f[3]) for f in found]

    def _probe(self, text: str, starts: list[tuple[int, _Probe]], edits: list[Edit]) -> None:
        """Try each detector whose anchor was seen, at the start its anchor implies."""
        starts.sort(key=lambda s: s[0])
        tried: set[tuple[int, int]] = set()
        # The last edit's span: anchors inside it are part of a value already masked. (Not
        # everything before its end: an assignment's key lies between its anchor and its value.)
        covered_from, covered = 0, 0
        for pos, probe in starts:
            if covered_from <= pos < covered:
                continue
            if probe.back == "key":
                start = _scan_key_back(text, pos)
            elif probe.back == "scheme":
                start = _scan_back(text, pos, SCHEME_CHARS, 32)
            else:
                start = pos
            token = (start, id(probe))
            if token in tried:
                continue
            tried.add(token)
            m = probe.regex.match(text, start)
            if m is None:
                continue
            found = probe.handler(m)
            if found is None:
                continue
            if isinstance(found, Edit):
                edits.append(found)
                covered_from, covered = found.start, found.end
            else:
                # several spans (a YAML alias's anchors): they may lie anywhere in the text
                edits.extend(found)

    # -- post-processing ---------------------------------------------------------------------

    @staticmethod
    def _drop_placeholders(text: str, edits: list[Edit]) -> list[Edit]:
        spans = [(m.start(), m.end()) for m in PLACEHOLDER_RE.finditer(text)]
        if not spans:
            return edits
        return [
            e for e in edits
            if not any(s < e.end and e.start < t for s, t in spans)
        ]

    def _merge(self, text: str, edits: list[Edit]) -> list[Edit]:
        edits.sort(key=lambda e: (e.start, -e.end))
        merged: list[Edit] = [edits[0]]
        for e in edits[1:]:
            last = merged[-1]
            if e.start >= last.end:
                merged.append(e)
            elif e.end > last.end:
                start, end = last.start, e.end
                ph = self._ph.of_text(text[start:end])
                merged[-1] = Edit(start, end, ph, ph)
        return merged

class _Probe(NamedTuple):
    """One detector to try where one anchor was seen; ``back`` says how far to step back."""

    regex: re.Pattern[str]
    handler: Handler
    back: str


def _find_each(patterns: list[str], low: str) -> list[tuple[int, int, int]]:
    """(pattern index, start, end) of every occurrence, like the automaton's overlapping scan."""
    out: list[tuple[int, int, int]] = []
    for index, pattern in enumerate(patterns):
        pos = low.find(pattern)
        while pos >= 0:
            out.append((index, pos, pos + len(pattern)))
            pos = low.find(pattern, pos + 1)
    return out


def _ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only, so positions match the original text exactly."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


_HEX = frozenset("0123456789abcdefABCDEF")


def _scan_key_back(text: str, pos: int) -> int:
    """Start of the key word ending at ``pos``: key characters and ``\\uXXXX`` escapes (a JSON
    key may spell ``pass\\u0077ord``), at most ``MAX_KEY`` characters back."""
    stop = max(0, pos - MAX_KEY)
    while pos > stop:
        if (pos >= 6 and text[pos - 6] == "\\" and text[pos - 5] == "u"
                and all(c in _HEX for c in text[pos - 4:pos])):
            pos -= 6
        elif text[pos - 1] in KEY_CHARS:
            pos -= 1
        else:
            break
    return pos


def _scan_back(text: str, pos: int, chars: frozenset[str], limit: int) -> int:
    """Start of the run of ``chars`` ending at ``pos``, at most ``limit`` characters back."""
    stop = max(0, pos - limit)
    while pos > stop and text[pos - 1] in chars:
        pos -= 1
    return pos
