"""Glob patterns for policy match keys: ``*`` (any run), ``?`` (one character), ``[…]`` classes
(``[!…]`` negates, as in ``fnmatch``).

Patterns are validated and compiled once when the policy is loaded, so a broken pattern is a
file:line error and matching on the hot path is one precompiled regex per key. Matching is
case-sensitive (Kubernetes names are). ``""`` is a valid pattern and matches only the empty
string (the core API group).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


class GlobError(ValueError):
    """A pattern that is not a valid glob (the message says why)."""


def translate(pattern: str) -> str:
    """The regex source for ``pattern``; raise ``GlobError`` for unbalanced or empty classes."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            while i < n and pattern[i] == "*":
                i += 1
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = i + 1 if i < n and pattern[i] == "!" else i
            if j < n and pattern[j] == "]":  # "[]…]": a literal ']' first in the class
                j += 1
            end = pattern.find("]", j)
            if end < 0:
                raise GlobError(f"unclosed '[' in glob {pattern!r}")
            body = pattern[i:end]
            i = end + 1
            negate = body[:1] == "!"
            if negate:
                body = body[1:]
            if not body:
                raise GlobError(f"empty character class in glob {pattern!r}")
            escaped = "".join("\\" + ch if ch in "\\^[]" else ch for ch in body)
            try:
                re.compile(f"[{escaped}]")
            except re.error as err:
                raise GlobError(f"bad character class in glob {pattern!r}: {err}") from None
            out.append(f"[{'^' if negate else ''}{escaped}]")
        elif c == "]":
            raise GlobError(f"unmatched ']' in glob {pattern!r}")
        else:
            out.append(re.escape(c))
    return "".join(out)


@dataclass(frozen=True)
class GlobSet:
    """A list of globs; a value matches if any glob matches it whole."""

    patterns: tuple[str, ...]
    _regex: re.Pattern[str]

    @classmethod
    def of(cls, patterns: Iterable[str]) -> GlobSet:
        pats = tuple(patterns)
        source = "|".join(f"(?:{translate(p)})" for p in pats) or "(?!)"
        return cls(pats, re.compile(f"(?s:{source})\\Z"))

    def matches(self, value: str) -> bool:
        return self._regex.match(value) is not None


def glob_match(pattern: str, value: str) -> bool:
    """One glob against one value (used by ``body:`` string leaves)."""
    return GlobSet.of((pattern,)).matches(value)
