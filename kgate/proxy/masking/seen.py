"""Secret values the object walker has seen, found again in any string of any reply.

``KnownValues`` finds known values in log and exec streams with one Aho-Corasick automaton; that
automaton is rebuilt whenever a value is added, and rebuilding it for tens of thousands of values
takes seconds. Replies learn values all the time (a SecretList teaches thousands, every watch
event a few), so checking every reply against that automaton would rebuild it per reply. This
index is cheap to grow instead: each value is filed under its longest *token* (a run of
characters between delimiters such as spaces, quotes, ``:``, ``=``, ``/``, ``@``); a text is
split into tokens once, the tokens are intersected with the index in C, and only the candidates
are confirmed with a substring search. Values with no token of ``MIN_TOKEN`` characters are kept
apart and searched for directly.

What it finds: a known value that stands in the text as a whole token sequence — copied into a
name, a label, an annotation, quoted in a ``Status`` message (``Invalid value: "…"``), embedded in
a URL or an assignment. What it does not: a value glued to other letters on both sides of its
longest token (``xx<value>yy``); the detectors and the stream path's automaton cover free text.

Bounded: past ``MAX_VALUES`` the oldest half is forgotten. Thread-safe: walkers on several
threads (a big reply masked off the event loop) learn into and read from one index.
"""

from __future__ import annotations

import re
import threading

from ahocorasick_rs import AhoCorasick

from .placeholders import PREFIX

#: Values shorter than this are not remembered (too likely to occur by chance).
MIN_LEN = 6
MIN_TOKEN = 4
MAX_VALUES = 200_000
MAX_VALUE_LEN = 4096
MAX_ODD = 512
#: Up to this many candidate values, ``spans`` searches for each; beyond, one automaton pass.
_FEW = 8
#: Automata ``spans`` keeps (each over one reply's candidate values).
_AUTOMATA_KEPT = 4
_DELIM_CHARS = "\"'`,;:=()[]{}<>|@\\&?#/!*+%$^~"
TOKEN = re.compile("[^\\s" + re.escape(_DELIM_CHARS) + "]+")
#: ``text.translate(_TO_SPACE).split()`` gives the same tokens as ``TOKEN.findall`` (for the
#: ASCII whitespace JSON text holds), several times faster on long text.
_TO_SPACE = {ord(c): " " for c in _DELIM_CHARS}


def tokens(text: str) -> list[str]:
    return text.translate(_TO_SPACE).split()


class SeenValues:
    """Values known to be secret, found as whole tokens in text (see the module docstring)."""

    def __init__(self) -> None:
        self._by_token: dict[str, list[str]] = {}
        self._values: dict[str, None] = {}     # insertion-ordered set
        self._odd: dict[str, None] = {}        # values without a usable token
        self._lock = threading.RLock()
        #: ``spans``' automata by candidate set: the same List read again has the same ones.
        self._automata: dict[frozenset[str], AhoCorasick] = {}

    def __len__(self) -> int:
        return len(self._values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def __contains__(self, value: object) -> bool:
        """Whether ``value`` itself is remembered (as it was added, a single line)."""
        return value in self._values

    def add(self, value: str) -> None:
        """Remember ``value`` (and each of its lines, stripped, if it has several)."""
        with self._lock:
            self._add(value)

    def _add(self, value: str) -> None:
        lines = value.splitlines() if ("\n" in value or "\r" in value) else [value]
        if len(lines) > 1:
            lines.append(value)
        for line in lines:
            line = line.strip()
            if (len(line) < MIN_LEN or len(line) > MAX_VALUE_LEN or line in self._values
                    or line.startswith("-----") or PREFIX in line):
                continue
            self._values[line] = None
            parts = tokens(line)
            best = max(parts, key=len) if parts else ""
            if len(best) >= MIN_TOKEN:
                self._by_token.setdefault(best, []).append(line)
            elif len(self._odd) < MAX_ODD:
                self._odd[line] = None
        if len(self._values) > MAX_VALUES:
            self._forget_oldest_half()

    def _forget_oldest_half(self) -> None:
        keep = list(self._values)[len(self._values) // 2:]
        self._values, self._by_token, self._odd = {}, {}, {}
        for v in keep:
            self._add(v)

    def contains_any(self, text: str) -> bool:
        """Cheap: does ``text`` hold any remembered value (as described above)?"""
        if not self._values:
            return False
        parts = tokens(text)
        with self._lock:
            by_token = self._by_token
            # Stop at the first value found: on a 1 MB List that recurs (the same PodList read
            # twice) every candidate used to be searched for everywhere, 1,000 passes of 1 MB.
            for token in by_token.keys() & set(parts):
                if any(v in text for v in by_token[token]):
                    return True
            return any(v in text for v in self._odd)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every occurrence in ``text`` of a value ``find`` could see there,
        sorted by start (overlapping ones too). For long texts with many candidates (a 1 MB
        List whose pods' secrets are known): one automaton pass, not a search per value."""
        if not self._values or len(text) < MIN_LEN:
            return []
        with self._lock:
            candidates: set[str] = set()
            by_token = self._by_token
            for token in by_token.keys() & set(tokens(text)):
                candidates.update(by_token[token])
            candidates.update(v for v in self._odd if v in text)
        if not candidates:
            return []
        if len(candidates) <= _FEW:
            return self._each(text, candidates)
        try:
            matches = self._automaton(frozenset(candidates)).find_matches_as_indexes(
                text, overlapping=True)
        except (UnicodeError, ValueError):   # lone surrogates: search one by one
            return self._each(text, candidates)
        return sorted((s, e) for _, s, e in matches)

    def _automaton(self, key: frozenset[str]) -> AhoCorasick:
        with self._lock:
            automaton = self._automata.get(key)
            if automaton is None:
                automaton = AhoCorasick(list(key))
                if len(self._automata) >= _AUTOMATA_KEPT:
                    self._automata.pop(next(iter(self._automata)))
                self._automata[key] = automaton
            return automaton

    @staticmethod
    def _each(text: str, candidates: set[str]) -> list[tuple[int, int]]:
        out = []
        for value in candidates:
            pos = text.find(value)
            while pos >= 0:
                out.append((pos, pos + len(value)))
                pos = text.find(value, pos + 1)
        out.sort()
        return out

    def _find_odd(self, text: str) -> list[tuple[int, int]]:
        spans = []
        for value in self._odd:
            pos = text.find(value)
            while pos >= 0:
                spans.append((pos, pos + len(value)))
                pos = text.find(value, pos + 1)
        return _merge(spans)

    def find(self, text: str) -> list[tuple[int, int]]:
        """(start, end) spans of remembered values in ``text``: sorted, non-overlapping,
        longest first where they overlap."""
        if not self._values or len(text) < MIN_LEN:
            return []
        with self._lock:
            return self._find(text)

    def _find(self, text: str) -> list[tuple[int, int]]:
        if len(text) <= MAX_VALUE_LEN and TOKEN.fullmatch(text) is not None:
            # one token, no delimiters: only a value equal to the whole text can be in it
            hit = text in self._values or any(v in text for v in self._odd)
            return [(0, len(text))] if hit and text in self._values else (
                self._find_odd(text) if hit else [])
        candidates: list[str] = []
        by_token = self._by_token
        for token in set(tokens(text)):    # few tokens, many values: look each up
            found = by_token.get(token)
            if found is not None:
                candidates.extend(found)
        candidates.extend(v for v in self._odd if v in text)
        if not candidates:
            return []
        spans: list[tuple[int, int]] = []
        for value in candidates:
            pos = text.find(value)
            while pos >= 0:
                spans.append((pos, pos + len(value)))
                pos = text.find(value, pos + 1)
        return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping; overlapping spans merge so no part of either value is left."""
    spans.sort(key=lambda s: (s[0], -s[1]))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if not out or s >= out[-1][1]:
            out.append((s, e))
        elif e > out[-1][1]:
            out[-1] = (out[-1][0], e)
    return out
