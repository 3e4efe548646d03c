"""Candidate regexes for dense anchors: where a detector could match, found by one ``finditer``.

``TextScanner`` tries a detector at every occurrence of its anchor; on text dense with anchors
(``AKIA AKIA …``, ``token token …``) that is a Python step per anchor, 0.5-2 MB/s. For an anchor
that is dense in a text, the scanner instead runs one *candidate* regex per detector over the
whole text, in C. A candidate matches the anchor itself (so ``finditer`` keeps the per-anchor
scan's non-overlapping occurrences) followed or preceded by zero-width conditions that every
occurrence the detector could turn into an edit satisfies — a candidate may keep too much, never
too little. The positions kept are then tried exactly as before, so the edits are the same
(``tests/masking/test_detectors_dense.py`` checks that against the per-anchor scan).

* Exact anchors that the regex starts at (tokens, JWTs, AWS ids): the detector's own regex as a
  lookahead from the anchor. A PEM key: its header only (its body may run to the end of text).
* ``://``: a scheme character before it and ``user:password@`` after it.
* Lower-case anchors (a key word's part: ``token``, ``pass``…) run over the lower-cased bytes.
  An anchor inside a longer key word (a key character before it) is always kept: the key's
  start, which decides the rest, is further back. An anchor that starts its key word keeps:
  for ``assignment``, what ``keyed.KeyedValues.assignment`` needs after the key — a separator,
  a tab, ``(``, a space only after a word that takes a spaced value (``password x``) or on a
  line that starts with the key, a quote or line end only after ``name:``-like text, an XML
  element's ``<``; for the other key detectors, their own regex from the anchor.
"""

from __future__ import annotations

import re
from functools import cache

#: Keys after which ``key value`` (one space) may hold a value (``keyed._spaced``).
_SPACED_ENDS = ("pass", "password", "passwd", "pwd", "passphrase", "account", "bearer",
                "masterauth")


def exact(anchor: str, kind: str, source: str) -> re.Pattern[str]:
    """The candidate regex for a case-sensitive anchor and one detector, over the text."""
    return re.compile(_exact(anchor, kind, source))


def keyed(anchor: str, kind: str, source: str) -> re.Pattern[bytes]:
    """The candidate regex for a lower-case anchor and one detector, over the lower-cased bytes
    with a newline in front (``TextScanner._dense_starts``)."""
    return re.compile(_keyed(anchor, kind, source).encode())


def _exact(anchor: str, kind: str, source: str) -> str:
    a = re.escape(anchor)
    if kind == "_pem":
        return a + r"(?= (?:[A-Z0-9]+ )*(?:PRIVATE|SECRET) KEY(?: BLOCK)?-----)"
    if kind == "_b64_pem":
        return a
    if kind == "_aws":      # ``catalogue._AWS`` at ``AKIA``/``ASIA``: its first branch, possessive
        return a + r"(?<![A-Za-z0-9]" + a + r")(?=[A-Z0-9]{16}(?![A-Za-z0-9]))"
    if kind == "_jwt":      # ``catalogue._JWT``, possessive (no class holds the ``.`` after it)
        return (a + r"(?<![A-Za-z0-9_-]" + a + r")"
                r"(?=[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]*+(?![A-Za-z0-9_.-]))")
    if kind == "_url":
        return (a + r"(?<=[A-Za-z0-9+.-]" + a + r")"
                r"(?=[^\s:/?#@\"'<>]{0,256}:[^\s/?#\"'<>]{1,256}@)")
    # the detector's regex, tried where the anchor starts (the literal first: a fast search)
    return a + "(?<=(?=" + source + ")" + a + ")"


def _keyed(anchor: str, kind: str, source: str) -> str:
    a = re.escape(anchor)
    mid = "(?<=[a-z0-9_.-]" + a + ")"          # inside a longer key word: always kept
    if kind != "_assignment":
        # The regex must match where the key starts, i.e. at the anchor. Over lower-cased
        # bytes: the regexes' classes are case-blind except ``(?<=BY )`` (SQL), lowered here.
        # A lookbehind may not hold a backreference: ``curl -u 'a:b'``'s closing quote is any.
        src = source.replace("(?<=BY )", "(?<=by )").replace("(?P=cu_q)", "[\"']")
        if "(?P=" in src:
            return a
        return a + "(?:" + mid + "|(?<=(?=" + src + ")" + a + "))"
    # The rest of the key word (possessive: the key ends where the word ends). A key with an
    # escape after the anchor is kept by its own branch below, so the rest is plain here.
    rest = r"[a-z0-9_.-]*+"
    value = r"[ \t]*[^ \t\r\n]"
    # (each lookbehind list behind a one-character class: a failed list is then one test)
    spaced = ("(?<=[" + "".join(sorted({w[-1] for w in _SPACED_ENDS})) + "] )(?:"
              + "|".join("(?<=" + re.escape(w) + " )" for w in _SPACED_ENDS) + ")")
    # ``key:`` at a line's end and an unindented line below: ``keyed._block`` finds no value.
    dead = r":[ \t]*(?:\r?\n(?:[ \t]*\r?\n)*[^ \t\r\n-]|\Z)"
    free = (r"(?!" + dead + r")(?:[:=(]|\\?[\"']?[ \t]*[:=])"    # key: value, "key" = …, PASSWORD(
            r"|\t" + value                       # key<TAB>value
            + r"| (?:[ \t]*[:=(]|" + spaced + value + ")")   # password x, requirepass x
    if anchor.startswith("\\"):
        return a                                 # escaped from its first character: keep
    # What precedes the key matters for a line that starts with it (``keyed._starts_line``:
    # blanks and dashes back to a newline, then ``key value``), ``name: KEY`` (``keyed.
    # _NAME_BEFORE``, whose ``$`` also matches before a last newline; then a quote or the line
    # end) and ``<KEY``/``<ns:KEY`` (XML): told by the character before the anchor, or a blank
    # and the one before it.
    named = "(?=" + rest + r"(?:[\"']|[ \t]*\r?\n))"
    xml = "(?=" + rest + r"[ \t\r\n>])"
    line = "(?=" + rest + " " + value + ")"
    # Prose (``the token was rotated``, a word alone on its line): a blank or a newline before
    # the anchor with a letter or digit before that, and after the key word a line end, or (after
    # a blank) one space then an ordinary character, the word not ending like a spaced key. No
    # branch below can keep such an occurrence; saying so first costs one test instead of a
    # dozen (``token token …`` in a log: 0.75 → ~0.2 µs per occurrence).
    ends = "".join(sorted({w[-1] for w in _SPACED_ENDS}))
    prose = (r"(?!(?<=[a-z0-9][ \t]" + a + ")" + rest
             + "(?:(?<![" + ends + r"]) [^ \t\r\n:=(\\\"']|\r?\n)"
             + r"|(?<=[a-z0-9]\n" + a + ")" + rest + r"\r?\n)")
    return (a + prose + "(?:" + mid
            + "|(?=" + rest + "(?:" + free + "))"
            + r"|(?=[a-z0-9_.-]*\\[ux])"        # an escaped key: its decoded end is unknown
            + "|(?<=[\n:=\"'<]" + a + ")(?:"
            + "(?<=\n" + a + ")" + line
            + "|(?<=[:=]" + a + ")" + named + "|(?<=[:=\"' \t][\n\"']" + a + ")" + named
            + "|(?<=<" + a + ")" + xml + "|(?<=[a-z0-9.?-]:" + a + ")" + xml + ")"
            + "|(?<=[ \t]" + a + ")(?:"
            + "(?<=[ \t\n-][ \t]" + a + ")" + line
            + "|(?<=[:=\"' \t][ \t]" + a + ")" + named + ")"
            + ")")


@cache
def overlaps_itself(anchor: str) -> bool:
    """``xox``, ``sshpass``, ``akia``: two occurrences can overlap, and the per-anchor scan
    skips the second (its occurrences are the leftmost non-overlapping ones)."""
    low = anchor.lower()
    return any(low[k:] == low[:len(low) - k] for k in range(1, len(low)))


def in_chain(target: str | bytes, anchor: str | bytes, positions: list[int]) -> list[int]:
    """The ``positions`` of ``anchor`` that the per-anchor scan tries: the leftmost
    non-overlapping occurrences, for an anchor that can overlap itself (``xoxox``)."""
    n = len(anchor)
    overlapped = [p for p in positions if _rfind(target, anchor, max(0, p - n + 1), p + n - 1)]
    if not overlapped:
        return positions
    starts = _chain(target, anchor)
    return [p for p in positions if p in starts]


def _rfind(target: str | bytes, anchor: str | bytes, lo: int, hi: int) -> bool:
    if isinstance(target, str):
        assert isinstance(anchor, str)
        return target.rfind(anchor, lo, hi) >= 0
    assert isinstance(anchor, bytes)
    return target.rfind(anchor, lo, hi) >= 0


def _chain(target: str | bytes, anchor: str | bytes) -> set[int]:
    if isinstance(target, str):
        assert isinstance(anchor, str)
        return {m.start() for m in re.finditer(re.escape(anchor), target)}
    assert isinstance(anchor, bytes)
    return {m.start() for m in re.finditer(re.escape(anchor), target)}
