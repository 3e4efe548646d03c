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

Bounded: past ``MAX_VALUES`` the oldest half is forgotten.
"""

from __future__ import annotations

import re

from .placeholders import PREFIX

#: Values shorter than this are not remembered (too likely to occur by chance).
MIN_LEN = 6
MIN_TOKEN = 4
MAX_VALUES = 200_000
MAX_VALUE_LEN = 4096
MAX_ODD = 512
_DELIMS = r"\s\"'`,;:=()\[\]{}<>|@\\&?#/!*+%$^~"
TOKEN = re.compile(f"[^{_DELIMS}]+")


class SeenValues:
    """Values known to be secret, found as whole tokens in text (see the module docstring)."""

    def __init__(self) -> None:
        self._by_token: dict[str, list[str]] = {}
        self._values: dict[str, None] = {}     # insertion-ordered set
        self._odd: dict[str, None] = {}        # values without a usable token

    def __len__(self) -> int:
        return len(self._values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def add(self, value: str) -> None:
        """Remember ``value`` (and each of its lines, stripped, if it has several)."""
        lines = value.splitlines() if ("\n" in value or "\r" in value) else [value]
        if len(lines) > 1:
            lines.append(value)
        for line in lines:
            line = line.strip()
            if (len(line) < MIN_LEN or len(line) > MAX_VALUE_LEN or line in self._values
                    or line.startswith("-----") or PREFIX in line):
                continue
            self._values[line] = None
            tokens = TOKEN.findall(line)
            best = max(tokens, key=len) if tokens else ""
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
            self.add(v)

    def contains_any(self, text: str) -> bool:
        """Cheap: does ``text`` hold any remembered value (as described above)?"""
        if not self._values:
            return False
        if not self._by_token.keys().isdisjoint(TOKEN.findall(text)):
            return bool(self.find(text))
        return any(v in text for v in self._odd)

    def find(self, text: str) -> list[tuple[int, int]]:
        """(start, end) spans of remembered values in ``text``: sorted, non-overlapping,
        longest first where they overlap."""
        if not self._values or len(text) < MIN_LEN:
            return []
        candidates: list[str] = []
        for token in set(TOKEN.findall(text)).intersection(self._by_token):
            candidates.extend(self._by_token[token])
        candidates.extend(v for v in self._odd if v in text)
        if not candidates:
            return []
        spans: list[tuple[int, int]] = []
        for value in candidates:
            pos = text.find(value)
            while pos >= 0:
                spans.append((pos, pos + len(value)))
                pos = text.find(value, pos + 1)
        spans.sort(key=lambda s: (s[0], -s[1]))
        out: list[tuple[int, int]] = []
        for s, e in spans:
            if not out or s >= out[-1][1]:
                out.append((s, e))
            elif e > out[-1][1]:   # overlapping: merge, so no part of either value is left
                out[-1] = (out[-1][0], e)
        return out
