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

Text *dense* with anchors (``AKIA AKIA …``, ``token token …``: anyone who can write a ConfigMap
or a log line can plant it) would cost a Python step per anchor. So the automaton runs block by
block, and an anchor seen often in a block leaves it for the rest of that text: such an anchor
is found, for each detector it stands for, by one ``finditer`` of a *candidate* regex over the
whole text (``dense``), which keeps only the positions where that detector could produce an edit.
The positions found either way are then tried exactly as before (``_probe``), so the edits are
the same; a candidate regex may keep too much, never too little.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ahocorasick_rs import BytesAhoCorasick

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
from .dense import exact as _exact_candidate
from .dense import in_chain, overlaps_itself
from .dense import keyed as _keyed_candidate
from .known import KnownValues
from .placeholders import PLACEHOLDER_RE, PREFIX, Placeholders
from .settings import DETECTOR_NAMES, MaskingSettings

# Imported by the masker and the tests from here; they live in ``catalogue``.
__all__ = ["Edit", "TextScanner", "is_reference", "key_is_sensitive"]

#: Values up to this length (annotations, env, cells) skip the automaton when no anchor occurs.
_SHORT = 512
#: The automaton runs over blocks of this many characters (bounded work per dense block).
_BLOCK = 8192
#: An anchor seen this many times in one block is dense for the rest of the text.
_DENSE = 16
#: The start of a text probed first for dense anchors (``_hits``).
_PROBE = 1024
#: Automata without some dense anchors, kept per scanner (an attacker chooses few sets).
_AUTOMATA_KEPT = 32


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
                    self._exact.setdefault(a, []).append(
                        _Probe(regex, handler, back, detector.handler, detector.regex))
                for a in detector.lower:
                    self._lower.setdefault(a, []).append(
                        _Probe(regex, handler, "key", detector.handler, detector.regex))
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
        self._ac = (BytesAhoCorasick([p.encode() for p in self._patterns]) if self._patterns
                    else None)
        self._longest = max(map(len, self._patterns), default=1)
        #: frozenset of dense pattern indexes -> (automaton over the others, their indexes)
        self._automata: dict[frozenset[int], tuple[BytesAhoCorasick | None, list[int]]] = {}
        #: (rank, probe index) -> candidate regex for a dense anchor (``dense``)
        self._exact_candidates: dict[tuple[int, int], re.Pattern[str]] = {}
        self._keyed_candidates: dict[tuple[int, int], re.Pattern[bytes]] = {}
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
        if len(text) > _SHORT and self._ac is not None:
            # the alternation regex enters its engine at every letter: slow on long texts
            data = memoryview(_lowered(text))
            step = _BLOCK + self._longest
            return any(self._ac.find_matches_as_indexes(data[i:i + step])
                       for i in range(0, len(data), _BLOCK))
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
            starts = self._anchor_starts(text, _lowered(text))
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

    def _anchor_starts(self, text: str, data: bytes) -> list[tuple[int, _Probe]]:
        """(position, probe) for each anchor occurrence, as a per-anchor scan would find them:
        non-overlapping per anchor, ordered by position, then detector order — except that a
        dense anchor's positions are only those its candidate regexes keep."""
        found: list[tuple[int, int, int, _Probe]] = []
        next_free: dict[int, int] = {}
        hits, dense_ids = self._hits(data)
        for index, start, end in hits:
            for rank, anchor, probes, cased in self._anchors[index]:
                if start < next_free.get(rank, 0):
                    continue
                if cased and not text.startswith(anchor, start):
                    continue
                next_free[rank] = end
                found.extend((start, rank, i, p) for i, p in enumerate(probes))
        if dense_ids:
            self._dense_starts(text, data, dense_ids, found)
        found.sort(key=lambda f: f[:3])
        return [(f[0], f[3]) for f in found]

    def _hits(self, data: bytes) -> tuple[list[tuple[int, int, int]], frozenset[int]]:
        """(pattern index, start, end) of every occurrence of a sparse anchor, and the indexes
        of the dense anchors (those are found by ``_dense_starts``)."""
        assert self._ac is not None
        if len(data) <= _BLOCK:
            hits = self._ac.find_matches_as_indexes(data, overlapping=True)
            if len(hits) < _DENSE:
                return hits, frozenset()
            dense = _dense_in(hits, _DENSE)
            return ([h for h in hits if h[0] not in dense] if dense else hits), dense
        out: list[tuple[int, int, int]] = []
        dense = frozenset[int]()
        view = memoryview(data)
        ac: BytesAhoCorasick | None = self._ac
        ids = list(range(len(self._patterns)))
        # An anchor dense in the first block is usually dense from its first bytes: a probe of
        # those finds it without listing the block's thousands of matches (same outcome: an
        # anchor seen _DENSE times in the probe is seen as often in the block).
        probe = self._ac.find_matches_as_indexes(view[:_PROBE + self._longest - 1],
                                                 overlapping=True)
        if len(probe) >= _DENSE:
            dense = _dense_in([h for h in probe if h[1] < _PROBE], _DENSE)
            if dense:
                ac, ids = self._automaton(dense)
        for lo in range(0, len(data), _BLOCK):
            if ac is None:
                break
            block = ac.find_matches_as_indexes(view[lo:lo + _BLOCK + self._longest - 1],
                                               overlapping=True)
            found = [(ids[i], s + lo, e + lo) for i, s, e in block if s < _BLOCK]
            out.extend(found)
            if len(found) >= _DENSE:
                more = _dense_in(found, _DENSE)
                if more:
                    dense |= more
                    ac, ids = self._automaton(dense)
        return ([h for h in out if h[0] not in dense] if dense else out), dense

    def _automaton(self, dense: frozenset[int]) -> tuple[BytesAhoCorasick | None, list[int]]:
        """The automaton over every pattern but ``dense``, and the indexes it reports."""
        got = self._automata.get(dense)
        if got is None:
            ids = [i for i in range(len(self._patterns)) if i not in dense]
            ac = BytesAhoCorasick([self._patterns[i].encode() for i in ids]) if ids else None
            if len(self._automata) >= _AUTOMATA_KEPT:
                self._automata.pop(next(iter(self._automata)))
            got = self._automata[dense] = (ac, ids)
        return got

    def _dense_starts(self, text: str, data: bytes, dense_ids: frozenset[int],
                      found: list[tuple[int, int, int, _Probe]]) -> None:
        """The positions of dense anchors where their detectors could match, by one
        ``finditer`` per (anchor, detector) over the whole text."""
        lined: bytes | None = None
        for index in dense_ids:
            for rank, anchor, probes, cased in self._anchors[index]:
                for i, probe in enumerate(probes):
                    if cased:
                        rx = self._exact_candidates.get((rank, i))
                        if rx is None:
                            rx = self._exact_candidates[(rank, i)] = _exact_candidate(
                                anchor, probe.kind, probe.source)
                        positions = [m.start() for m in rx.finditer(text)]
                    else:
                        rb = self._keyed_candidates.get((rank, i))
                        if rb is None:
                            rb = self._keyed_candidates[(rank, i)] = _keyed_candidate(
                                anchor, probe.kind, probe.source)
                        # a newline before the text: its start is a line start (YAML keys)
                        if lined is None:
                            lined = b"\n" + data
                        positions = [m.start() - 1 for m in rb.finditer(lined)]
                    if not positions:
                        continue
                    if overlaps_itself(anchor):
                        positions = (in_chain(text, anchor, positions) if cased
                                     else in_chain(data, anchor.encode(), positions))
                    found.extend((p, rank, i, probe) for p in positions)

    def _probe(self, text: str, starts: list[tuple[int, _Probe]], edits: list[Edit]) -> None:
        """Try each detector whose anchor was seen, at the start its anchor implies."""
        starts.sort(key=lambda s: s[0])
        tried: set[tuple[int, int]] = set()
        # The last edit's span (with the spans it overlaps): anchors inside it are part of a value
        # already masked. (Not everything before its end: an assignment's key lies between its
        # anchor and its value.)
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
                if found.start < covered and found.end > covered_from:
                    # overlapping values (``password=password=…``: each anchor's value is the
                    # rest of the text): one masked span, or every anchor costs a scan to the end
                    covered_from, covered = min(covered_from, found.start), max(covered, found.end)
                else:
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
    #: The handler's name and the regex source (what a dense anchor's candidate is built from).
    kind: str
    source: str


def _lowered(text: str) -> bytes:
    """``text`` as ASCII bytes, letters lower-cased, anything else one ``?``: offsets are the
    text's character offsets, and no anchor (all ASCII, none with ``?``) matches differently."""
    return (text.encode("ascii") if text.isascii()
            else text.encode("ascii", "replace")).lower()


def _dense_in(hits: list[tuple[int, int, int]], limit: int) -> frozenset[int]:
    """Pattern indexes seen at least ``limit`` times in ``hits``."""
    counts: dict[int, int] = {}
    for index, _s, _e in hits:
        counts[index] = counts.get(index, 0) + 1
    return frozenset(i for i, c in counts.items() if c >= limit)


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
