"""Secret values the session has already masked, recognised again when they turn up as bare text.

Detectors need context (a key, a prefix, a shape); ``kubectl exec pod -- cat /etc/creds/password``
or ``echo $DB_PASSWORD`` prints a Secret's value with none. But the masker has usually seen that
value already, in a structured place where it is known to be secret: a Secret's ``data`` or
``stringData``, a secret-named env value, a last-applied annotation. ``KnownValues`` remembers
those values (each line of a multi-line one) and finds them in log and exec streams, so the
stream's text scanner masks them like a detector hit. Objects are walked by detectors only: a big
List learns thousands of values while it is walked, and re-checking its text against a set that
changes with every item would rebuild the automaton per item. The proxy can also *prime* it
before relaying a pod's logs or exec
output, by feeding it the pod and the Secrets it mounts (``Masker.learn``).

What is remembered: a value counts when it is long enough to be distinctive (``MIN_LEN``) and
either sits under a secret-looking key/env name or looks like a credential (letters and digits
mixed). Plain words (``payments``, ``admin``) under neutral keys (``username``) are not learned:
masking every ``payments`` in a log would garble output without protecting anything. PEM armour
lines (``-----BEGIN …``) are skipped; the private-key detector owns them.

Cost: walking a big List must stay fast, so the walker only *defers* values (one list append);
they are decoded, filtered and added when a stream first needs them. Memory is bounded
(``MAX_VALUES``; past it, the oldest half is forgotten). Matching uses one Aho-Corasick automaton
(leftmost-longest), rebuilt lazily after new values arrive.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable

from ahocorasick_rs import AhoCorasick, MatchKind

from .placeholders import PREFIX

MIN_LEN = 8
MAX_VALUES = 50_000
MAX_VALUE_LEN = 4096
#: Deferred values are settled once they hold this many characters (bounded memory).
MAX_PENDING_CHARS = 16 * 1024 * 1024
_DIGIT = re.compile(r"[0-9]")
_LETTER = re.compile(r"[A-Za-z]")


def _credential_like(value: str) -> bool:
    """Letters and digits mixed: how generated passwords, tokens and keys look."""
    return _DIGIT.search(value) is not None and _LETTER.search(value) is not None


class KnownValues:
    """A bounded set of secret values to find again in text (see the module docstring)."""

    def __init__(self, key_is_sensitive: Callable[[str], bool] = lambda _k: False) -> None:
        self._values: dict[str, None] = {}   # insertion-ordered set
        self._patterns: list[str] = []
        self._ac: AhoCorasick | None = None
        self._dirty = False
        self._key_is_sensitive = key_is_sensitive
        self._pending: list[tuple[str | None, str, bool]] = []
        self._pending_chars = 0

    def __len__(self) -> int:
        self._settle()
        return len(self._values)

    def __bool__(self) -> bool:
        return bool(self._values or self._pending)

    def defer(self, key: str | None, value: str, base64: bool = False) -> None:
        """Remember ``value`` later (cheap: called for every Secret value of a big List).

        ``key`` is the Secret key it sat under (``None``: known to be secret, e.g. a
        secret-named env value); ``base64`` says ``value`` is a Secret ``data`` value.
        """
        self._pending.append((key, value, base64))
        self._pending_chars += len(value)
        if len(self._pending) > 4 * MAX_VALUES or self._pending_chars > MAX_PENDING_CHARS:
            self._settle()

    def _settle(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._pending_chars = 0
        sensitive: dict[str | None, bool] = {None: True}
        for key, value, encoded in pending:
            if encoded:
                try:
                    value = binascii.a2b_base64(value, strict_mode=True).decode()
                except (binascii.Error, ValueError):
                    continue   # not base64 of UTF-8 text: cannot turn up in text as such
            s = sensitive.get(key)
            if s is None:
                s = sensitive[key] = self._key_is_sensitive(key or "")
            self.add(value, sensitive_key=s)

    def add(self, value: str, *, sensitive_key: bool = False) -> bool:
        """Remember ``value`` (line by line); True if anything new was learned."""
        learned = False
        for line in value.splitlines() if ("\n" in value or "\r" in value) else (value,):
            line = line.strip()
            if (len(line) < MIN_LEN or len(line) > MAX_VALUE_LEN or line.startswith("-----")
                    or PREFIX in line or line in self._values):
                continue
            if not (sensitive_key or _credential_like(line)):
                continue
            self._values[line] = None
            learned = True
        if learned:
            self._dirty = True
            if len(self._values) > MAX_VALUES:
                for old in list(self._values)[: len(self._values) // 2]:
                    del self._values[old]
        return learned

    def _automaton(self) -> AhoCorasick | None:
        if self._dirty:
            self._patterns = list(self._values)
            self._ac = AhoCorasick(self._patterns, matchkind=MatchKind.LeftmostLongest) \
                if self._patterns else None
            self._dirty = False
        return self._ac

    def find(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character spans of known values in ``text``: sorted, non-overlapping."""
        if len(text) < MIN_LEN:
            return []
        self._settle()
        if not self._values:
            return []
        ac = self._automaton()
        if ac is None:
            return []
        if text.isascii():
            return [(start, end) for _, start, end in ac.find_matches_as_indexes(text)]
        spans: list[tuple[int, int]] = []
        for value in self._patterns:   # rare: non-ASCII text, find each value
            pos = text.find(value)
            while pos >= 0:
                spans.append((pos, pos + len(value)))
                pos = text.find(value, pos + len(value))
        spans.sort(key=lambda s: (s[0], -s[1]))
        out: list[tuple[int, int]] = []
        for s, e in spans:
            if not out or s >= out[-1][1]:
                out.append((s, e))
        return out
