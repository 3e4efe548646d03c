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

Pinned values: priming (``stages.priming``) learns *every* value of the Secrets a pod references,
whatever its shape, with ``pin``: down to ``PIN_MIN_LEN`` characters, letters-only or digits-only,
binary (decoded the way the stream maskers decode bytes), and lines longer than ``MAX_VALUE_LEN``
(which also register overlapping windows, so a piece of one cut by a long-line split is still
found). Pinned values are kept apart from the bounded set: an agent that floods the session with
tens of thousands of other values evicts only unpinned ones. Each ``Pin`` is released when the
stream it was primed for ends.

Cut streams: ``partial_suffix`` finds where the end of a text could be the *beginning* of a known
value, so a stream cut mid-value (``logs --limit-bytes``) never emits the first half of a secret.

Cost: walking a big List must stay fast, so the walker only *defers* values (one list append);
they are decoded, filtered and added when a stream first needs them. Memory is bounded
(``MAX_VALUES``; past it, the oldest half is forgotten). Matching uses one Aho-Corasick automaton
(leftmost-longest), rebuilt lazily after new values arrive.

Thread-safe: walkers on worker threads defer values while streams on the event loop look them
up; every method that reads or changes the set holds one (re-entrant) lock.
"""

from __future__ import annotations

import binascii
import bisect
import re
import threading
from collections.abc import Callable, Iterable

from ahocorasick_rs import AhoCorasick, MatchKind

from .placeholders import PREFIX

MIN_LEN = 8
#: Pinned (primed) values are recognised down to this many characters; shorter ones are not.
PIN_MIN_LEN = 4
#: Pinned lines longer than this also register windows of ``PIN_WINDOW`` characters.
PIN_LONG = 2048
PIN_WINDOW = 1024
#: A pinned value longer than this is cut here (a Secret holds at most 1 MiB anyway).
PIN_MAX_LEN = 1024 * 1024
#: How far back from a cut ``partial_suffix`` looks (longer values are caught by their windows).
PARTIAL_REACH = 4096
MAX_VALUES = 50_000
MAX_VALUE_LEN = 4096
#: Deferred values are settled once they hold this many characters (bounded memory).
MAX_PENDING_CHARS = 16 * 1024 * 1024
_DIGIT = re.compile(r"[0-9]")
_LETTER = re.compile(r"[A-Za-z]")


def _credential_like(value: str) -> bool:
    """Letters and digits mixed: how generated passwords, tokens and keys look."""
    return _DIGIT.search(value) is not None and _LETTER.search(value) is not None


class Pin:
    """Values pinned for one stream; ``release`` (idempotent) lets them be forgotten again."""

    def __init__(self, owner: KnownValues, patterns: list[str]) -> None:
        self._owner: KnownValues | None = owner
        self.patterns = patterns

    def release(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            owner._unpin(self.patterns)


def _pin_pieces(value: str) -> list[str]:
    """The lines of ``value`` worth pinning, plus windows of very long lines."""
    pieces: list[str] = []
    for line in value[:PIN_MAX_LEN].split("\n"):
        line = line.strip()
        if len(line) < PIN_MIN_LEN or PREFIX in line:
            continue
        pieces.append(line)
        if len(line) > PIN_LONG:
            step = PIN_WINDOW // 2
            pieces += [line[i:i + PIN_WINDOW] for i in range(0, len(line) - PIN_WINDOW + 1, step)]
    return pieces


class KnownValues:
    """A bounded set of secret values to find again in text (see the module docstring)."""

    def __init__(self, key_is_sensitive: Callable[[str], bool] = lambda _k: False) -> None:
        self._values: dict[str, None] = {}   # insertion-ordered set
        self._pinned: dict[str, int] = {}     # pinned pattern -> number of live pins
        self._patterns: list[str] = []
        self._sorted: list[str] = []
        self._longest = 0
        self._firsts: set[str] = set()
        self._ac: AhoCorasick | None = None
        self._dirty = False
        self._key_is_sensitive = key_is_sensitive
        self._pending: list[tuple[str | None, str, bool]] = []
        self._pending_chars = 0
        self._lock = threading.RLock()

    def __len__(self) -> int:
        with self._lock:
            self._settle()
            return len(self._values.keys() | self._pinned.keys())

    def __bool__(self) -> bool:
        return bool(self._values or self._pending or self._pinned)

    def __contains__(self, value: object) -> bool:
        with self._lock:
            self._settle()
            return value in self._values or value in self._pinned

    def pin(self, values: Iterable[str]) -> Pin:
        """Recognise every value in ``values`` (any shape, ≥ ``PIN_MIN_LEN``) until released.

        Pinned values are never evicted by the bound on learned values.
        """
        with self._lock:
            patterns: list[str] = []
            for value in values:
                for piece in _pin_pieces(value):
                    patterns.append(piece)
                    if piece not in self._pinned:
                        self._dirty = True
                    self._pinned[piece] = self._pinned.get(piece, 0) + 1
            return Pin(self, patterns)

    def _unpin(self, patterns: list[str]) -> None:
        with self._lock:
            for piece in patterns:
                count = self._pinned.get(piece, 0) - 1
                if count > 0:
                    self._pinned[piece] = count
                else:
                    self._pinned.pop(piece, None)
                    self._dirty = True

    def defer(self, key: str | None, value: str, base64: bool = False) -> None:
        """Remember ``value`` later (cheap: called for every Secret value of a big List).

        ``key`` is the Secret key it sat under (``None``: known to be secret, e.g. a
        secret-named env value); ``base64`` says ``value`` is a Secret ``data`` value.
        """
        with self._lock:
            self._pending.append((key, value, base64))
            self._pending_chars += len(value)
            if len(self._pending) > 4 * MAX_VALUES or self._pending_chars > MAX_PENDING_CHARS:
                self._settle()

    def _settle(self) -> None:
        with self._lock:
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
        with self._lock:
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
        with self._lock:
            if self._dirty:
                self._patterns = list(self._values.keys() | self._pinned.keys())
                self._sorted = []   # built when a cut stream first needs it
                # The automaton holds ASCII values (the common case, and lone surrogates of binary
                # values cannot cross into it); text with other characters takes the slow path.
                ascii_only = [p for p in self._patterns if p.isascii()]
                self._ac = AhoCorasick(ascii_only, matchkind=MatchKind.LeftmostLongest) \
                    if ascii_only else None
                self._dirty = False
            return self._ac

    def find(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character spans of known values in ``text``: sorted, non-overlapping."""
        with self._lock:
            if len(text) < (PIN_MIN_LEN if self._pinned else MIN_LEN):
                return []
            self._settle()
            if not self._values and not self._pinned:
                return []
            ac = self._automaton()
            if text.isascii():
                if ac is None:
                    return []
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

    def partial_suffix(self, text: str, min_len: int = PIN_MIN_LEN) -> int:
        """Where the longest tail of ``text`` that is a proper beginning of a known value starts
        (``len(text)`` if none of at least ``min_len`` characters is).

        For a stream cut by its end: that tail may be the first half of a secret.
        """
        with self._lock:
            self._settle()
            if not self._values and not self._pinned:
                return len(text)
            self._automaton()
            if not self._sorted:
                self._sorted = sorted(self._patterns)
                self._longest = max(map(len, self._patterns), default=0)
                self._firsts = {p[0] for p in self._patterns}
            reach = min(self._longest, PARTIAL_REACH)
            firsts = self._firsts
            for start in range(max(0, len(text) - reach), len(text) - min_len + 1):
                if text[start] not in firsts:
                    continue
                tail = text[start:]
                i = bisect.bisect_left(self._sorted, tail)
                if i < len(self._sorted) and self._sorted[i].startswith(tail):
                    return start
            return len(text)

