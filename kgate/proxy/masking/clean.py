"""A raw-bytes proof that the object walker would change nothing: such a reply (or List item) is
copied as bytes, never decoded or walked (issue 15).

Walking costs ~2 µs per key, so a 30 MB List masks at single-digit MB/s even when nothing in it
is secret. ``CleanCheck`` looks at the raw JSON instead — substring tests and one Aho-Corasick
pass over the lower-cased bytes — and says *clean* only when every way ``ObjectMasker``
(``objects``) could change the object is ruled out. Anything it cannot vouch for is "not
clean" and takes the full walk, so a wrong "not clean" costs speed, never a secret.

Why it is sound — each thing that makes the walker change (or learn from) an object:

* **Escapes that hide spelling.** A raw form with ``\\u`` or ``\\/`` is never clean. Any other
  escape (``\\"``, ``\\\\``, ``\\n``…) stands for a quote, a backslash or a control character,
  none of which occurs in an anchor or in a secret word, so every anchor of a decoded string is
  spelled literally in the bytes (the argument of ``hot.py``).
* **Detectors.** Each built-in detector needs an anchor in a string (``hot.py``); every string
  holding one (value or key) is decoded and run through the same ``TextScanner`` the walker
  uses; a hit → not clean. Custom detectors (no anchors) → never clean.
* **Sensitive names.** ``key_is_sensitive`` needs a secret word, a suffix, a last word ``auth`` or
  a ``… key`` pair (``keys``), all ASCII; the default ``secretEnvNames`` regex is a
  case-insensitive alternation of ASCII words. Their anchors (``NAME_ANCHORS``) join the
  automaton, and each string holding one is judged by its place: a map key → sensitive key whose
  value is a string or a list (a map under it is walked like any other); the value of a ``name``
  key → sensitive pair name *if* its object also has a ``value`` key; an array element → a
  sensitive ``--flag`` (which also covers the argument after it). With a custom env regex, or
  non-ASCII bytes (``(?i)`` matches ``K`` KELVIN SIGN for ``k``, ``ſ`` for ``s``), every
  ``"name": "…"`` value is decoded and judged with the real regex instead.
* **Known values** (``SeenValues``). ``contains_any`` over the raw text finds every value a string
  spelled without escapes could hold (strings are delimited by quotes, which split tokens); each
  string holding an escape is decoded and checked on its own.
* **Always handled.** Secrets (``Secret"`` or ``SecretList"`` anywhere, a ``Secret`` hint, a
  kindless object with ``type`` and ``data``/``stringData`` unless the List names a plain kind
  and nothing in the item has its own ``kind``) and ConfigMap ``binaryData`` → not clean.
  These spellings ride the anchors' automaton (overlapping matches: none hides another).
* **JSON in strings.** A string that starts with ``{`` or ``[`` and parses is walked as a
  document (kind unknown) and then as text: it must pass this check itself (to a depth of
  ``_MAX_DEPTH``). The last-applied annotation's key must hold such a document (anything else
  becomes one placeholder).
* **Validity.** The reasoning holds for JSON only: a clean verdict counts only for bytes whose
  syntax msgspec checked (``bulk``'s element views; ``Masker``'s skip-parse, after this check);
  non-ASCII bytes must decode as UTF-8 here.
* **Cost bounds.** Anchor-dense text (more than one match per 64 bytes), more than 256 pair
  objects to search, or JSON nested deeper than ``_MAX_DEPTH`` in strings → not clean.
  ``for_collection`` backs off on Lists whose elements keep needing the walk.

Nothing is learned from a clean object: the walker only learns what it masks, and a clean object
holds no Secret whose values ``learn_secrets`` would take.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec
import orjson
from ahocorasick_rs import BytesAhoCorasick

from .detectors import TextScanner
from .hot import HotStrings, close_quote, is_escaped, open_quote, strings_at
from .keys import _SECRET_PAIRS, _SECRET_SUFFIXES, _SECRET_WORDS, key_is_sensitive
from .objects import _FLAG
from .secretdata import LAST_APPLIED
from .seen import SeenValues
from .settings import MaskingSettings

_CACHE = 16384
_MAX_DEPTH = 4
_MAX_SKIP = 16
#: Matches allowed beyond one per 64 bytes before text counts as anchor-dense; window size.
_MATCH_BUDGET, _WINDOW = 4096, 1 << 18
#: A big body is first sampled this far: more than one match per 32 bytes there is dense.
_PROBE = 16 * 1024
#: Pair names whose object is searched for a ``value`` key, per check (then: not clean).
_PAIR_BUDGET = 256
_BIG = 64 * 1024
_SKIP = msgspec.json.Decoder(msgspec.Raw)
_APPLIED_KEY = b'"' + LAST_APPLIED.encode() + b'"'
#: Spellings that are always handled by the walker (see the module docstring), lower-cased:
#: they ride the anchors' automaton pass.
_REFUSE = (b"\\u", b"\\/", b'"binarydata"')
#: Strings that are JSON documents (walked nested) and the last-applied annotation's key.
_NESTED, _APPLIED = (b'"{', b'"['), b"last-applied-configuration"
#: Keys that make a kindless object a Secret (lower-cased: ``"Data"`` counts too, to be safe),
#: and the end of a ``Secret``/``SecretList`` kind (then checked with its case).
_DATA, _TYPE, _KIND, _SECRET = (b'"data"', b'"stringdata"'), b'"type"', b'"kind"', b'secret"'
_SECRET2 = b'secretlist"'
_NAME_VALUE = re.compile(rb'"name"\s*:\s*("[^"\\]*(?:\\.[^"\\]*)*")')
_STRUCT = re.compile(rb'[{}\[\]"]')
_WS = b" \t\r\n"
_SIMPLE_ENV = re.compile(r"^\(\?i\)\(([a-z]+(?:\|[a-z]+)*)\)$")
_KEY, _VALUE, _ELEMENT, _UNKNOWN = 0, 1, 2, 3


def _minimal(words: set[str]) -> frozenset[str]:
    """Drop the words that contain another (``password`` ⊃ ``pass``): same matches, fewer."""
    return frozenset(w for w in words if not any(o != w and o in w for o in words))


#: Every key ``key_is_sensitive`` accepts holds one of these (lower-cased).
NAME_ANCHORS = _minimal(set(_SECRET_WORDS) | set(_SECRET_SUFFIXES) | {"auth"}
                        | {second for _, second in _SECRET_PAIRS})


def env_anchors(pattern: str) -> frozenset[str] | None:
    """The words of a ``(?i)(word|word…)`` env regex (the default is one), or None for any other
    regex (then names are judged with the regex itself)."""
    m = _SIMPLE_ENV.match(pattern)
    return None if m is None else frozenset(m.group(1).split("|"))


def _plain_kind(kind: str | None) -> bool:
    """A List's item kind under which the walker never treats an object as a Secret or walks
    kindless objects inside it."""
    return kind is not None and kind not in ("Secret", "Table", "WatchEvent") \
        and not kind.endswith("List")


class CleanCheck:
    """Says whether raw JSON is provably left unchanged by the walker (module docstring).

    One per thread (it shares the thread's ``TextScanner``); the session's ``SeenValues`` is
    shared and guards itself.
    """

    def __init__(self, settings: MaskingSettings, hot: HotStrings, scanner: TextScanner,
                 seen: SeenValues) -> None:
        self._enabled = hot.enabled
        env_words = env_anchors(settings.secret_env_names)
        self._names_by_anchor = env_words is not None
        anchors = set(hot.anchors) | {a.encode() for a in (*NAME_ANCHORS, *(env_words or ()))}
        special = [*_REFUSE, *_DATA, _TYPE, _KIND, _SECRET, _SECRET2, *_NESTED, _APPLIED]
        patterns = special + sorted(anchors - set(special))
        at = {p: i for i, p in enumerate(patterns)}
        #: pattern indexes of the special spellings; anchors are the rest (from ``_anchor``)
        self._refuse = frozenset(at[p] for p in _REFUSE)
        self._data = frozenset(at[p] for p in _DATA)
        self._type, self._kind, self._applied = at[_TYPE], at[_KIND], at[_APPLIED]
        self._secret = frozenset((at[_SECRET], at[_SECRET2]))
        self._nested = frozenset(at[p] for p in _NESTED)
        self._anchor = len(special)
        self._ac = BytesAhoCorasick(patterns)
        self._longest = max(map(len, patterns))
        self._env = re.compile(settings.secret_env_names)
        self._scan = scanner
        self._seen = seen
        #: Raw spellings of anchored strings that are clean wherever they stand (detectors
        #: find nothing, not a sensitive key, pair name or flag).
        self._clean_anywhere: set[bytes] = set()
        #: Raw spellings of anchored strings the detectors found nothing in.
        self._undetected: set[bytes] = set()
        self._pair: dict[str, bool] = {}
        self._pairs_left = _PAIR_BUDGET

    def __call__(self, raw: bytes | memoryview, kind: str | None = None, depth: int = 0) -> bool:
        """True only if walking ``raw`` (one object, List item or Table row; ``kind`` implied by
        its List) would change nothing. ``raw`` must be syntactically valid JSON; ``depth``
        counts JSON documents held in strings around it."""
        if not self._enabled:
            return False
        data = raw if isinstance(raw, bytes) else bytes(raw)
        if depth == 0:
            self._pairs_left = _PAIR_BUDGET
        if kind == "Secret" or (len(data) > _BIG and (
                b'Secret"' in data or b'SecretList"' in data)):
            return False   # (a big body: spare the automaton's match list)
        matches = self._matches(data.lower())
        if matches is None:
            return False   # anchor-dense text: the walker's own dense path handles it
        found = {m[0] for m in matches if m[0] < self._anchor}
        if found:
            if found & self._refuse:
                return False
            if found & self._secret and (b'Secret"' in data or b'SecretList"' in data):
                return False   # a Secret's own kind, or a SecretList (whose items are Secrets)
            if found & self._data and self._type in found and not (
                    _plain_kind(kind) and self._kind not in found):
                return False   # may be a kindless Secret
            if self._applied in found and not self._applied_clean(data, matches):
                return False
            if found & self._nested and not self._nested_clean(data, matches, depth):
                return False
        ascii_only = data.isascii()
        if not ascii_only:
            try:
                data.decode()
            except UnicodeDecodeError:
                return False
        anchored = [m for m in matches if m[0] >= self._anchor] if found else matches
        if anchored and not self._hot_strings_clean(data, anchored):
            return False
        if not (ascii_only and self._names_by_anchor) and not self._names_clean(data):
            return False
        return not self._seen or self._no_known_value(data)

    def _matches(self, lowered: bytes) -> list[tuple[int, int, int]] | None:
        """Every match, overlapping (no pattern may hide another), found window by window so
        that anchor-dense text is given up on (None) before its matches fill memory."""
        find = self._ac.find_matches_as_indexes
        size = len(lowered)
        budget = _MATCH_BUDGET + size // 64
        if size <= _WINDOW:
            found = find(lowered, overlapping=True)
            return found if len(found) <= budget else None
        view = memoryview(lowered)
        if len(find(view[:_PROBE], overlapping=True)) > _PROBE // 32:
            return None   # dense from the start (a value of ``AKIA…``): not worth listing
        out: list[tuple[int, int, int]] = []
        for start in range(0, size, _WINDOW):
            # the window runs on by the longest pattern: a match starting in it ends in it
            part = find(view[start:start + _WINDOW + self._longest], overlapping=True)
            if len(out) + len(part) > budget:
                return None
            out.extend((i, s + start, e + start) for i, s, e in part if s < _WINDOW)
        return out

    def for_collection(self) -> Callable[[memoryview, str | None], bool]:
        """The check for the elements of one List or Table (``bulk.mask_collection``), backing
        off where elements keep needing the walk: after each refusal in a row it skips twice as
        many elements (up to ``_MAX_SKIP``) before asking again; a clean element resets it. A
        skipped element is walked — slower, never less safe — and a List of Pods with secrets
        then pays for a few checks instead of one per element."""
        state = [0, 0]   # elements left to skip, skip after the next refusal

        def check(raw: memoryview, kind: str | None) -> bool:
            if state[0]:
                state[0] -= 1
                return False
            if self(raw, kind):
                state[1] = 0
                return True
            state[0] = state[1]
            state[1] = min(_MAX_SKIP, state[1] * 2 or 1)
            return False
        return check

    # -- JSON held in strings ------------------------------------------------------------------

    def _nested_clean(self, data: bytes, matches: list[tuple[int, int, int]],
                      depth: int) -> bool:
        """A string starting with ``{`` or ``[`` that parses is walked as a document of its own
        (``ObjectMasker._json_string``, kind unknown) — and then, if that changed nothing, as
        plain text, which the anchored-string and known-value checks cover. So it must be
        clean as a document too. (A ``\\"{`` inside a string is text, not a string's start.)"""
        for index, s, _ in matches:
            if index not in self._nested or is_escaped(data, s):
                continue
            q1 = close_quote(data, s + 1)
            if q1 < 0:
                return False
            try:
                text = orjson.loads(data[s:q1 + 1])
                inner = text.encode()
            except (orjson.JSONDecodeError, AttributeError, UnicodeEncodeError):
                return False
            if len(inner) < 2:
                continue
            try:
                _SKIP.decode(inner)
            except msgspec.DecodeError:
                continue   # not JSON: the walker treats it as plain text
            except RecursionError:
                return False
            if depth >= _MAX_DEPTH or not self(inner, None, depth + 1):
                return False
        return True

    def _applied_clean(self, data: bytes, matches: list[tuple[int, int, int]]) -> bool:
        """The last-applied annotation is masked whole unless it holds a JSON document (which
        ``_nested_clean`` then judges); the phrase anywhere but that key is plain text."""
        for index, s, e in matches:
            if index != self._applied:
                continue
            q0, q1 = open_quote(data, s), close_quote(data, e)
            if q0 < 0 or q1 < 0:
                return False
            role, colon = _role(data, q0, q1)
            if role == _VALUE or role == _ELEMENT:
                continue   # text: the walker only treats the key specially
            if data[q0:q1 + 1] != _APPLIED_KEY or role != _KEY:
                return False
            v = colon + 1
            while v < len(data) and data[v] in _WS:
                v += 1
            if data[v:v + 2] not in _NESTED:
                return False
            end = close_quote(data, v + 1)
            try:
                _SKIP.decode(orjson.loads(data[v:end + 1]))
            except (orjson.JSONDecodeError, msgspec.DecodeError, RecursionError, TypeError):
                return False   # not JSON: becomes one placeholder
        return True

    # -- known values ------------------------------------------------------------------------

    def _no_known_value(self, data: bytes) -> bool:
        contains = self._seen.contains_any
        if contains(data.decode()):
            return False
        pos = data.find(b"\\")
        while pos >= 0:   # a string with an escape may spell a value differently: decode it
            q0, q1 = open_quote(data, pos), close_quote(data, pos)
            if q0 < 0 or q1 < 0:
                return False
            try:
                value = orjson.loads(data[q0:q1 + 1])
            except orjson.JSONDecodeError:
                return False
            if not isinstance(value, str) or contains(value):
                return False
            pos = data.find(b"\\", q1 + 1)
        return True

    # -- anchored strings --------------------------------------------------------------------

    def _hot_strings_clean(self, data: bytes, matches: list[tuple[int, int, int]]) -> bool:
        """Each string holding an anchor match (sorted by start) judged by its name and place
        first (cheap: most objects with a secret are refused here), then by the detectors; a
        string clean wherever it stands is remembered by its raw spelling."""
        anywhere = self._clean_anywhere
        unsure: list[tuple[bytes, str, bool]] = []
        for q0, q1 in strings_at(data, matches):
            if q0 < 0:
                return False
            spelled = data[q0:q1 + 1]
            if spelled in anywhere:
                continue
            try:
                text = orjson.loads(spelled)
            except orjson.JSONDecodeError:
                return False
            if not isinstance(text, str):
                return False
            named = key_is_sensitive(text) or self._pair_sensitive(text) \
                or _flag_sensitive(text)
            if named and not self._in_place_clean(data, text, q0, q1):
                return False
            unsure.append((spelled, text, not named))   # named: clean here, maybe not elsewhere
        undetected = self._undetected
        for spelled, text, everywhere in unsure:
            if spelled in anywhere:
                continue   # the same string earlier in this body
            if spelled not in undetected:
                if self._scan.mask(text)[1]:
                    return False
                if len(undetected) >= _CACHE:
                    undetected.clear()
                undetected.add(spelled)
            if everywhere:
                if len(anywhere) >= _CACHE:
                    anywhere.clear()
                anywhere.add(spelled)
        return True

    def _in_place_clean(self, data: bytes, text: str, q0: int, q1: int) -> bool:
        """A string with a sensitive name, judged by its place (module docstring)."""
        role, key_at = _role(data, q0, q1)
        if role == _KEY:   # a sensitive key masks a string or a list's strings, not a map
            return not (key_is_sensitive(text) and _next(data, key_at + 1) in b'"[')
        if role == _VALUE:
            return not (data[key_at:q0].startswith(b'"name"') and self._pair_sensitive(text)
                        and self._in_pair(data, key_at, q1))
        if role == _ELEMENT:
            return not _flag_sensitive(text)
        return False

    # -- pair names judged with the regex itself ---------------------------------------------

    def _names_clean(self, data: bytes) -> bool:
        for m in _NAME_VALUE.finditer(data):
            try:
                name = orjson.loads(m.group(1))
            except orjson.JSONDecodeError:
                return False
            if self._pair_sensitive(name) and self._in_pair(data, m.start(), m.end(1) - 1):
                return False
        return True

    def _in_pair(self, data: bytes, key_at: int, end: int) -> bool:
        """``_in_pair`` within a budget per check (many names in one object would make the
        searches quadratic): past it, assume a pair."""
        self._pairs_left -= 1
        return self._pairs_left < 0 or _in_pair(data, key_at, end)

    def _pair_sensitive(self, name: str) -> bool:
        s = self._pair.get(name)
        if s is None:
            if len(self._pair) >= _CACHE:
                self._pair.clear()
            s = self._pair[name] = (key_is_sensitive(name)
                                    or self._env.search(name) is not None)
        return s


def _flag_sensitive(text: str) -> bool:
    """``--db-password=x`` or ``--token`` (whose next argument the walker masks)."""
    if not text.startswith("-"):
        return False
    m = _FLAG.match(text)
    return m is not None and key_is_sensitive(m.group(1))


def _role(data: bytes, q0: int, q1: int) -> tuple[int, int]:
    """Whether the string at ``data[q0:q1+1]`` is a map key (with where its colon is), a map
    value (with where its key's opening quote is) or an array element."""
    j = q1 + 1
    while j < len(data) and data[j] in _WS:
        j += 1
    if j < len(data) and data[j] == 0x3A:   # ':'
        return _KEY, j
    i = q0 - 1
    while i >= 0 and data[i] in _WS:
        i -= 1
    if i < 0:
        return _UNKNOWN, -1
    if data[i] == 0x3A:
        k = i - 1
        while k >= 0 and data[k] in _WS:
            k -= 1
        if k < 0 or data[k] != 0x22:
            return _UNKNOWN, -1
        k0 = open_quote(data, k)
        return (_VALUE, k0) if k0 >= 0 else (_UNKNOWN, -1)
    if data[i] in b"[,":
        return _ELEMENT, -1
    return _UNKNOWN, -1


def _next(data: bytes, pos: int) -> bytes:
    """The first non-whitespace byte from ``pos`` (empty at the end)."""
    while pos < len(data) and data[pos] in _WS:
        pos += 1
    return data[pos:pos + 1]


def _is_value_key(data: bytes, q0: int, q1: int) -> bool:
    if data[q0:q1 + 1] != b'"value"':
        return False
    j = q1 + 1
    while j < len(data) and data[j] in _WS:
        j += 1
    return j < len(data) and data[j] == 0x3A


def _in_pair(data: bytes, key_at: int, end: int) -> bool:
    """Does the object holding the ``"name"`` key at ``key_at`` (value ending at ``end``) also
    have a ``"value"`` key? True when the structure is not as expected (fail closed)."""
    depth, pos = 0, end + 1
    while True:   # forward to the object's closing brace
        m = _STRUCT.search(data, pos)
        if m is None:
            return True
        j = m.start()
        c = data[j]
        if c == 0x22:
            q1 = close_quote(data, j + 1)
            if q1 < 0:
                return True
            if depth == 0 and _is_value_key(data, j, q1):
                return True
            pos = q1 + 1
        elif c in b"{[":
            depth, pos = depth + 1, j + 1
        elif depth == 0:
            break
        else:
            depth, pos = depth - 1, j + 1
    # backward to its opening brace; the last position of each structural character before
    # ``pos`` is remembered, so each byte is searched over once
    last = {c: data.rfind(c, 0, key_at) for c in (b'"', b"{", b"}", b"[", b"]")}
    depth, pos = 0, key_at
    while True:
        for ch, at in last.items():
            if at >= pos:
                last[ch] = data.rfind(ch, 0, pos)
        j = max(last.values())
        if j < 0:
            return True
        c = data[j]
        if c == 0x22:
            q0 = open_quote(data, j)
            if q0 < 0:
                return True
            if depth == 0 and _is_value_key(data, q0, j):
                return True
            pos = q0
        elif c in b"}]":
            depth, pos = depth + 1, j
        elif depth == 0:
            return c != 0x7B   # '{' opens the object; '[' would not be JSON
        else:
            depth, pos = depth - 1, j
