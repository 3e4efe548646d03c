"""Masking parsed Kubernetes objects in every response shape, in place.

**Every string is suspect.** The walker visits every string value and every map key of every
object — Secrets, ConfigMaps, pods and their templates, ControllerRevisions, custom resources,
Events, ``Status`` (message and details), TokenRequests — and, for each:

* a value under a *sensitive key* (``key_is_sensitive`` from the catalogue: ``password``,
  ``DB_PASSWORD``, ``status.token``, a ``{name: Authorization, value: …}`` header; env-style
  ``{name, value}`` pairs also match the policy's ``secretEnvNames``) becomes a placeholder, and so
  does the argument after a sensitive flag (``--db-password X``);
* anything else goes through the free-text detectors;
* values already known to be secret (``SeenValues``: Secret data from this and earlier replies,
  sensitive-key values) are replaced wherever they appear, harmless fields and map keys included.

Structurally harmless fields (``harmless.py``: names, uids, timestamps, kinds, images, condition
enums, managedFields) skip the detectors but not the known-values check. A string that holds a
JSON document (the last-applied annotation, a JSON config value) is parsed and walked like an
object; an unparseable last-applied annotation becomes one placeholder.

Secret ``data`` stays valid base64 (of the placeholder), keys unchanged, equal values → equal
placeholders; public certificates (PEM ``CERTIFICATE`` blocks and nothing else) stay visible when
``showCertificates`` is on. Secrets in a reply are learned *before* the rest of it is walked, so
a dry-run that copied a Secret value into a name is masked in the same reply.

Every masked string is recorded with its namespace and normalised slot (``slots.py``) so that a
routine write-back to the same place can be restored.

Speed: callers pass the raw JSON of each object; one pass over it decides whether detectors and
the known-values check can find anything at all (``_Precheck``): a Rust automaton names the
strings that hold a detector anchor (``hot.py``), and only those meet the detectors. A raw form
with escapes cannot vouch for its strings and takes the conservative checks. Key decisions are
cached. A walker keeps per-walk state: one per thread (``masker.py``).

Shapes: a single object, a ``…List`` (items often carry no ``kind``: it is implied by the list's
kind), a generic ``List``, a ``Table`` (``rows[].object`` and cells), a watch event
``{type, object}``, ``Status``. An object with no ``kind`` that has a ``type`` string and
``data``/``stringData`` is treated as a Secret (fail closed).
"""

from __future__ import annotations

import binascii
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
import orjson
from ahocorasick_rs import AhoCorasick

from . import harmless
from .bulk import dumps
from .catalogue import is_reference, key_is_sensitive
from .detectors import TextScanner
from .hot import HotStrings
from .known import KnownValues
from .placeholders import PLACEHOLDER_RE, PREFIX, Placeholders, is_placeholder
from .secretdata import LAST_APPLIED, looks_like_secret, public_certificates, secret_remainder
from .seen import SeenValues
from .slots import IssuedValues, slot_of

_NESTED_CACHE = 4096
_KEY_CACHE = 16384
_CLEAN_TEXT_LEN = 256
_SUBTREES, _BY_PARENT, _ANYWHERE = harmless.SUBTREES, harmless.BY_PARENT, harmless.ANYWHERE
#: Strings that a JSON encoder may have escaped, so the raw-body pre-check cannot vouch for them.
_ESCAPABLE_BASIC = re.compile(r'["\\\x00-\x1f\x7f]')
_ESCAPABLE_FULL = re.compile(r'[^\x20-\x7e]|["\\<>&/]')
_ARMOUR = re.compile(r"-----(?:BEGIN|END) [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")
_FLAG = re.compile(r"^--?([A-Za-z0-9][A-Za-z0-9_.-]*)(=(.*))?$", re.DOTALL)
_ANY_DOC = msgspec.json.Decoder()

ALL, SOME, NONE = 2, 1, 0


class _Precheck:
    """What the raw JSON of one object says about its strings.

    ``detect``/``known``: ``ALL`` — run on every string; ``SOME`` — the raw form has escapes, so
    run on the strings that could have been escaped; ``NONE`` — nothing can be found.
    """

    __slots__ = ("_memo", "detect", "escapable", "hot", "known", "knownset", "text")

    def __init__(self, detect: int, known: int, escapable: re.Pattern[str],
                 text: str | None = None, hot: frozenset[str] | None = None,
                 knownset: frozenset[str] | None = None) -> None:
        self.detect, self.known, self.escapable = detect, known, escapable
        #: The raw JSON text, to tell afterwards whether values learned in the walk recur.
        self.text = text
        #: When the raw form vouches for its strings (``hot.py``): the only strings (values and
        #: keys) a detector could fire on; ``detect`` is then ``ALL`` if there are any.
        self.hot = hot
        #: Likewise for known values (``known`` is then ``ALL``): the strings in which the raw
        #: text spells one; strings holding a character JSON escapes are looked up as well.
        self.knownset = knownset
        self._memo: dict[str, bool] = {}   # strings not in ``knownset``: keys repeat a lot

    def needs_known(self, s: str) -> bool:
        """Whether the known-values lookup could find anything in the string ``s``."""
        known = self.known
        if not known:
            return False
        knownset = self.knownset
        if knownset is not None:
            if s in knownset:
                return True
            memo = self._memo.get(s)
            if memo is None:
                # (a string masked earlier in the walk is looked up again: it is no longer
                # spelled as in the raw text)
                memo = self._memo[s] = PREFIX in s or self.escapable.search(s) is not None
            return memo
        return known == ALL or self.escapable.search(s) is not None


_EVERYTHING = _Precheck(ALL, ALL, _ESCAPABLE_FULL)


class ObjectMasker:
    """Walks decoded JSON documents and masks them in place, returning how many values changed."""

    def __init__(self, env_names: str, placeholders: Placeholders, scanner: TextScanner,
                 known: KnownValues | None = None, *, seen: SeenValues | None = None,
                 issued: IssuedValues | None = None, show_certificates: bool = True,
                 hot: HotStrings | None = None) -> None:
        self._env = re.compile(env_names)
        self._hot = hot
        self._ph = placeholders
        self._scan = scanner
        self._known = known          # where values are remembered for text streams
        self.seen = seen if seen is not None else SeenValues()
        self.issued = issued if issued is not None else IssuedValues()
        self._show_certs = show_certificates
        self._nested: dict[str, tuple[str, int]] = {}
        self._nested_seen = 0
        self._sensitive: dict[str, bool] = {}
        self._env_sensitive: dict[str, bool] = {}
        self._clean_keys: set[str] = set()
        #: Strings the detectors found nothing in (they repeat: images, paths, flags, enums).
        self._clean_text: set[str] = set()
        #: Strings and keys no known value was in, with how many values were known then.
        self._known_clean: dict[str, int] = {}
        self._certs: dict[str, bool] = {}
        # per-object walking state
        self._pre = _EVERYTHING
        self._path: list[str] = []
        self._ns = ""
        self._kind: str | None = None
        self._recording = True
        self._learned: list[str] = []
        #: Values masked beyond one per changed string (several spans, a nested document).
        self._extra = 0

    # -- entry points ------------------------------------------------------------------------

    def precheck(self, raw: bytes | memoryview | str | None, doc: Any = None,
                 kind: str | None = None) -> _Precheck:
        """Decide from the raw JSON text what the walk of this object has to look at.

        A Secret is judged without its own values (``data``, ``stringData``, the last-applied
        annotation): those are masked or walked in full whatever the pre-check says, and would
        otherwise make every Secret look like it holds a known value.
        """
        if raw is None:
            return _EVERYTHING
        rest = secret_remainder(doc, kind)
        if rest is not None:
            try:
                raw = dumps(rest)
            except (TypeError, RecursionError):
                return _EVERYTHING
        data = raw if isinstance(raw, str) else bytes(raw)
        hot = None if self._hot is None or isinstance(data, str) else self._hot.scan(data)
        text = data if isinstance(data, str) else data.decode("utf-8", "surrogatepass")
        backslash = "\\" in text
        if hot is not None:     # no \\u or \\/ escape: every anchor is spelled literally
            # A known value with a quote or a control character is escaped in the text: the
            # strings that hold an escape are still looked up one by one (SOME).
            known = ALL if self.seen.contains_any(text) else (
                SOME if backslash and self.seen else NONE)
            # Which strings spell a known value: a Secret's own values are outside ``text``
            # (its data keys too), so a Secret looks everything up as before.
            knownset = self._known_strings(text) if known == ALL and rest is None else None
            return _Precheck(ALL if hot else NONE, known, _ESCAPABLE_BASIC, text, hot, knownset)
        escapable = _ESCAPABLE_FULL if ("\\u" in text or "\\/" in text) else _ESCAPABLE_BASIC
        partial = SOME if backslash else NONE
        detect = ALL if self._scan.might_match(text) else partial
        known = ALL if self.seen.contains_any(text) else (partial if self.seen else NONE)
        return _Precheck(detect, known, escapable, text)

    def _known_strings(self, text: str) -> frozenset[str] | None:
        """The strings (values and keys) of the raw JSON ``text`` that hold a known value as it
        is spelled there, or ``None`` if that cannot be told (then every string is looked up).

        Sound for the strings with no character JSON escapes: their raw form is the string
        itself, between quotes (delimiters of ``SeenValues``' tokens), so a value ``find``
        would see in the string is found in the text, inside those quotes. Strings with such a
        character are looked up anyway (``needs_known``): a match next to a backslash-quote is
        in one of those (or outside every string), and is not followed further."""
        found: set[str] = set()
        end = -1
        rfind, find = text.rfind, text.find
        for s, e in self.seen.spans(text):
            if s <= end:
                continue          # inside the string just taken
            q0 = rfind('"', 0, s)
            q1 = find('"', e)
            if q0 < 0 or q1 < 0:
                return None
            if text[q0 - 1] == "\\" or text[q1 - 1] == "\\":
                continue          # an escape in the string: it is looked up anyway
            try:
                value = orjson.loads(text[q0:q1 + 1])
            except orjson.JSONDecodeError:
                return None       # a match across strings: be conservative
            if not isinstance(value, str):
                return None
            found.add(value)
            end = q1
        return frozenset(found)

    def _walk(self, walk: Callable[[_Precheck], int], pre: _Precheck) -> int:
        """Walk once; walk again with the known-values check on everything if a value learned
        in this walk (a sensitive key's value) occurs in the object more often than it was
        masked — ``--password X`` in args and ``curl -u admin:X`` in a probe of one pod."""
        start = len(self._learned)
        n = walk(pre)
        if len(self._learned) == start:
            return n
        # Only values the session did not know when the walk began can have been missed: those
        # it knew were looked for wherever the text spells them (the same PodList read again
        # learns only values it already knew, and is walked once).
        seen = self.seen
        new = [v for v in self._learned[start:] if v not in seen]
        for v in new:
            seen.add(v)
        if not new:
            return n
        if pre.text is None or _recur(pre.text, new, pre.escapable):
            again = _EVERYTHING
            if pre.knownset is not None and pre.text is not None:
                # the strings that spell a known value now; the detectors as in the first walk
                knownset = self._known_strings(pre.text)
                if knownset is not None:
                    again = _Precheck(pre.detect, ALL, pre.escapable, None, pre.hot, knownset)
            n += walk(again)
        return n

    def document(self, doc: Any, kind_hint: str | None = None,
                 raw: bytes | str | None = None) -> int:
        """Mask any decoded response document (object, List, Table, watch event, array).

        ``raw`` is the JSON the document was decoded from, if the caller has it (faster).
        """
        self.learn_secrets(doc, kind_hint)
        pre = self.precheck(raw, doc, kind_hint)
        try:
            if isinstance(doc, list):
                return self._counted(self._walk(lambda p: sum(
                    self._document(d, kind_hint, p) if isinstance(d, dict)
                    else self._list_at([d], p) for d in doc), pre))
            if not isinstance(doc, dict):
                return 0
            return self._counted(self._walk(lambda p: self._document(doc, kind_hint, p), pre))
        finally:
            self.flush_learned()

    def item(self, doc: Any, kind: str | None, raw: bytes | memoryview | None = None) -> int:
        """One element of a List's ``items`` (kind implied by the list when it has none).
        The caller has run ``learn_secrets`` over all elements first."""
        if not isinstance(doc, dict):
            return 0
        return self._counted(self._walk(lambda p: self._document(doc, kind, p),
                                        self.precheck(raw, doc, kind)))

    def envelope(self, rest: dict[str, Any], kind: str | None) -> int:
        """A big collection's own fields besides its elements (metadata, columns)."""
        return self._counted(self._root(rest, kind, self.precheck(None)))

    def row(self, row: Any, raw: bytes | memoryview | None = None) -> int:
        """One element of a Table's ``rows``."""
        if not isinstance(row, dict):
            return 0
        return self._counted(self._walk(lambda p: self._row(row, p), self.precheck(raw)))

    def _counted(self, n: int) -> int:
        extra, self._extra = self._extra, 0
        return n + extra if n else 0

    def text(self, value: str) -> tuple[str, int]:
        """Detectors and known values over one free-text value."""
        new, n = self._scan.mask(value)
        new2, k = self._known_only(new)
        return new2, n + k

    @contextmanager
    def not_recording(self) -> Iterator[None]:
        """Mask without recording where placeholders were issued (log copies of request bodies:
        the agent wrote those values; they were never read through kgate)."""
        saved, self._recording = self._recording, False
        try:
            yield
        finally:
            self._recording = saved

    def flush_learned(self) -> None:
        """Hand the values learned while walking to the stream side (``KnownValues``)."""
        if self._learned:
            learned, self._learned = self._learned, []
            for v in learned:
                self.seen.add(v)
                if self._known is not None:
                    self._known.defer(None, v)

    # -- learning Secrets before the walk -----------------------------------------------------

    def learn_secrets(self, doc: Any, kind_hint: str | None = None) -> None:
        """Remember the values of every Secret in a document (object, List, Table, event)."""
        if isinstance(doc, list):
            for d in doc:
                self.learn_secrets(d, kind_hint)
            return
        if not isinstance(doc, dict):
            return
        kind = doc.get("kind")
        if not isinstance(kind, str):
            kind = kind_hint
        if kind == "Table":
            rows = doc.get("rows")
            for row in rows if isinstance(rows, list) else ():
                if isinstance(row, dict):
                    self.learn_secrets(row.get("object"))
            return
        obj = doc.get("object")
        if isinstance(obj, dict) and "metadata" not in doc:
            self.learn_secrets(obj)
        items = doc.get("items")
        if isinstance(items, list) and (kind is None or kind.endswith("List")):
            item_kind = kind[:-4] if kind and kind != "List" else None
            for item in items:
                self.learn_secrets(item, item_kind)
            return
        if kind == "Secret" or (kind is None and looks_like_secret(doc)):
            self._learn_secret(doc)

    def _learn_secret(self, o: dict[str, Any]) -> None:
        data = o.get("data")
        if isinstance(data, dict):
            for k, v in data.items():
                if isinstance(v, str) and v and not self._is_certificate(v):
                    try:
                        text = binascii.a2b_base64(v, strict_mode=True).decode()
                    except (binascii.Error, ValueError):
                        text = ""
                    if text.startswith(PREFIX):
                        continue               # already masked (a re-read of masked output)
                    self.seen.add(v)           # the base64 text itself can be copied around
                    if text:
                        self.seen.add(text)
                    if self._known is not None:
                        self._known.defer(k, v, base64=True)
        sdata = o.get("stringData")
        if isinstance(sdata, dict):
            for k, v in sdata.items():
                if isinstance(v, str) and v and not is_placeholder(v):
                    self.seen.add(v)
                    if self._known is not None:
                        self._known.defer(k, v)

    # -- shapes ------------------------------------------------------------------------------

    def _document(self, d: dict[str, Any], kind_hint: str | None, pre: _Precheck) -> int:
        kind = d.get("kind")
        if not isinstance(kind, str):
            kind = kind_hint
        if kind == "Table":
            return self._table(d, pre)
        if isinstance(d.get("object"), dict) and (kind == "WatchEvent" or (
                kind is None and "type" in d and "metadata" not in d)):
            n = self._strings_of(d, ("type",), pre)
            return n + self._document(d["object"], None, pre)
        items = d.get("items")
        if isinstance(items, list) and (kind is None or kind.endswith("List")):
            item_kind = kind[:-4] if kind and kind != "List" else None
            n = self._root(d, kind, pre, skip=("items",))
            if not all(isinstance(item, dict) for item in items):
                return n + self._list_at(items, pre)
            for item in items:
                ik = item.get("kind")
                n += self._document(item, ik if isinstance(ik, str) else item_kind, pre)
            return n
        return self._root(d, kind, pre)

    def _table(self, table: dict[str, Any], pre: _Precheck) -> int:
        rows = table.get("rows")
        if not isinstance(rows, list):
            return self._root(table, "Table", pre)   # not rows at all: walked like any field
        n = self._root(table, "Table", pre, skip=("rows",))
        for i, row in enumerate(rows):
            if isinstance(row, dict):
                n += self._row(row, pre)
            else:   # not a row: walked like any list element
                box = [row]
                n += self._list_at(box, pre)
                rows[i] = box[0]
        return n

    def _row(self, row: dict[str, Any], pre: _Precheck) -> int:
        n = 0
        obj = row.get("object")
        if isinstance(obj, dict):
            n += self._document(obj, None, pre)
        saved = self._pre
        self._pre = pre
        self._path, self._kind, self._ns = [], "TableRow", _namespace_of(obj)
        try:
            for key in row:
                if key == "object":
                    continue
                value = row[key]
                if isinstance(value, str):
                    new = self._value(key, value, harmless.ANYWHERE, False)
                    if new is not None:
                        row[key] = new
                        n += 1
                elif isinstance(value, dict | list):
                    self._path.append(key)
                    n += self._container(value, key, harmless.ANYWHERE)
                    self._path.pop()
        finally:
            self._pre = saved
        return n

    def _strings_of(self, d: dict[str, Any], keys: tuple[str, ...], pre: _Precheck) -> int:
        """Top-level strings of a wrapper (a watch event's ``type``): known values only."""
        n = 0
        self._pre = pre
        for k in keys:
            v = d.get(k)
            if isinstance(v, str) and pre.needs_known(v):
                new, c = self._known_only(v)
                if c:
                    d[k] = new
                    n += c
        return n

    def _list_at(self, items: list[Any], pre: _Precheck) -> int:
        self._pre, self._path, self._kind, self._ns = pre, [], None, ""
        return self._container(items, "items", harmless.ANYWHERE)

    def _root(self, o: dict[str, Any], kind: str | None, pre: _Precheck,
              skip: tuple[str, ...] = ()) -> int:
        """Walk one object from its root: namespace, kind and path reset here."""
        self._pre, self._path, self._kind = pre, [], kind
        self._ns = _namespace_of(o)
        n = 0
        is_secret = kind == "Secret" or (kind is None and looks_like_secret(o))
        if is_secret:
            n += self._secret(o)
            skip = (*skip, "data", "stringData")
        elif kind == "ConfigMap" or (kind is None and isinstance(o.get("binaryData"), dict)):
            n += self._binary_data(o)
            skip = (*skip, "binaryData")
        return n + self._dict(o, harmless.ANYWHERE, skip)

    # -- the generic walk --------------------------------------------------------------------

    def _dict(self, d: dict[str, Any], safe: frozenset[str], skip: tuple[str, ...] = ()) -> int:
        n = 0
        renames: list[tuple[str, str]] = []
        pair_name = d.get("name") if "value" in d else None
        path = self._path
        pre = self._pre
        check_keys = pre.known or pre.detect
        quiet = not check_keys
        sensitive_of = self._sensitive
        clean_keys = self._clean_keys
        clean_text = self._clean_text
        hot = pre.hot
        known = pre.known
        needs_known = pre.needs_known
        for key, value in d.items():
            if key in skip:
                continue
            if check_keys and ((known and needs_known(key))
                               or (key not in clean_keys and (hot is None or key in hot))) \
                    and self._key_suspect(key):
                new_key = self._mask_key(key)
                if new_key is not None:
                    renames.append((key, new_key))
            t = type(value)
            if t is dict or t is list:
                if key in _SUBTREES:
                    if known:
                        path.append(key)
                        n += self._known_tree(value)
                        path.pop()
                    continue
                path.append(key)
                if t is dict:
                    n += self._dict(value, _BY_PARENT.get(key, _ANYWHERE))
                else:
                    n += self._list(value, key, _BY_PARENT.get(key, _ANYWHERE))
                path.pop()
            elif t is str or isinstance(value, str):
                if not value:
                    continue
                if key == "value" and isinstance(pair_name, str):
                    sensitive = self._pair_sensitive(pair_name)
                elif key in safe:
                    if not (known and needs_known(value)):
                        continue
                    sensitive = False
                else:
                    cached = sensitive_of.get(key)
                    sensitive = self._key_sensitive(key) if cached is None else cached
                if not sensitive and (quiet or (
                        (value in clean_text or (hot is not None and value not in hot))
                        and not (known and needs_known(value)))) \
                        and value[0] not in "{[" and key != LAST_APPLIED:
                    continue
                new = self._value(key, value, safe, sensitive)
                if new is not None:
                    d[key] = new
                    n += 1
        for old, new_key in renames:
            d[new_key] = d.pop(old)
            n += 1
        return n

    def _container(self, value: dict[str, Any] | list[Any], key: str,
                   safe: frozenset[str]) -> int:
        if isinstance(value, dict):
            return self._dict(value, safe)
        return self._list(value, key, safe)

    def _list(self, lst: list[Any], key: str, safe: frozenset[str]) -> int:
        n = 0
        path = self._path
        sensitive_list = self._key_sensitive(key)
        mask_next = False
        pre = self._pre
        hot = pre.hot
        # a clean element needs no call: not after a flag, not a flag, nothing to find in it
        quiet = key != LAST_APPLIED and not sensitive_list
        known = pre.known
        needs_known = pre.needs_known
        clean_text = self._clean_text
        for i, v in enumerate(lst):
            t = type(v)
            if t is str and quiet and not mask_next and (
                    not v or (v[0] not in "-{[" and (
                        v in clean_text or (hot is not None and v not in hot))
                        and not (known and needs_known(v)))):
                continue
            if t is str or (t is not dict and t is not list and isinstance(v, str)):
                new: str | None = None
                if mask_next or sensitive_list:
                    mask_next = False
                    if _maskable(v) and not v.startswith("-"):
                        new = self._issue(str(i), v, self._ph.of_text(v), v)
                if new is None:
                    new, mask_next = self._arg(i, v)
                if new is None:
                    new = self._value(key, v, safe, False, slot_key=str(i))
                if new is not None:
                    lst[i] = new
                    n += 1
            elif t is dict:
                name = v.get("name")
                path.append(name if isinstance(name, str) else str(i))
                n += self._dict(v, safe)
                path.pop()
                mask_next = False
            elif t is list:
                path.append(str(i))
                n += self._list(v, key, safe)
                path.pop()
                mask_next = False
        return n

    def _arg(self, i: int, v: str) -> tuple[str | None, bool]:
        """``--db-password=X`` → mask X; ``--db-password`` → mask the next argument."""
        if not v.startswith("-") or len(v) > 256:
            return None, False
        m = _FLAG.match(v)
        if m is None or not self._key_sensitive(m.group(1)):
            return None, False
        if m.group(2) is None:
            return None, True
        value = m.group(3)
        if not _maskable(value):
            return None, False
        return self._issue(str(i), v, v[: m.start(3)] + self._ph.of_text(value), value), False

    def _armoured(self, value: str) -> str | None:
        """A PEM key under a sensitive key (``tls.key``) keeps its armour: the private-key
        detector's result, but only when nothing but armour lines and placeholders is left."""
        if "-----BEGIN" not in value:
            return None
        new, _ = self._scan.mask(value)   # unchanged if it was armoured in an earlier pass
        rest = _ARMOUR.sub("", PLACEHOLDER_RE.sub("", new))
        return new if not rest.strip() and PREFIX in new else None

    # -- strings -----------------------------------------------------------------------------

    def _value(self, key: str, value: str, safe: frozenset[str], sensitive: bool,
               slot_key: str | None = None) -> str | None:
        """The masked form of one string value, or None if it stays as it is.

        ``sensitive``: the caller already knows the value sits under a sensitive key/name.
        """
        where = slot_key or key
        if sensitive or (key not in safe and self._key_sensitive(key)):
            if not _maskable(value):
                return None
            armoured = self._armoured(value)
            if armoured is not None:
                return None if armoured == value else self._issue(where, value, armoured, value)
            return self._issue(where, value, self._ph.of_text(value), value)
        pre = self._pre
        if key in safe:
            if pre.needs_known(value):
                new, c = self._known_only(value)
                if c:
                    return self._issue(where, value, new)
            return None
        if not value:
            return None
        if value[0] in "{[" and len(value) > 1:
            new_json = self._json_string(key, value)
            if new_json is not None:
                return self._issue(where, value, new_json)
            if key == LAST_APPLIED:
                return None
        elif key == LAST_APPLIED:
            if is_placeholder(value):
                return None
            return self._issue(where, value, self._ph.of_text(value), value)
        detect = pre.detect == ALL or (pre.detect == SOME
                                       and pre.escapable.search(value) is not None)
        known = pre.needs_known(value)
        if detect and (value in self._clean_text or (pre.hot is not None
                                                     and value not in pre.hot)):
            detect = False
        if not (detect or known):
            return None
        if detect:
            new, c = self._scan.mask(value)
            if not c and len(value) <= _CLEAN_TEXT_LEN:
                if len(self._clean_text) >= _KEY_CACHE:
                    self._clean_text.clear()
                self._clean_text.add(value)
        else:
            new, c = value, 0
        if known:
            new, k = self._known_only(new)
            c += k
        if not c:
            return None
        self._extra += c - 1
        return self._issue(where, value, new)

    def _json_string(self, key: str, value: str) -> str | None:
        """A string holding a JSON document: walked like an object (cached by value).

        ``None`` when nothing inside needed masking or it is not JSON; an unparseable
        last-applied annotation becomes one placeholder (it may hold anything).
        """
        if self._nested_seen != len(self.seen):
            self._nested.clear()       # newly known values may now be found inside
            self._nested_seen = len(self.seen)
        cached = self._nested.get(value)
        if cached is None:
            try:
                doc = _ANY_DOC.decode(value)
            except (msgspec.DecodeError, RecursionError):
                doc = _NOT_JSON
            cached = (value, -1) if doc is _NOT_JSON else self._walk_nested(doc, value)
            if len(self._nested) >= _NESTED_CACHE:
                self._nested.clear()
            self._nested[value] = cached
            self._nested_seen = len(self.seen)
        new, n = cached
        if n > 1:
            self._extra += n - 1
        if n < 0:
            if key == LAST_APPLIED and not is_placeholder(value):
                self._learned.append(value)
                return self._ph.of_text(value)
            return None
        return new if n else None

    def _walk_nested(self, doc: Any, value: str) -> tuple[str, int]:
        saved = (self._pre, self._path, self._kind, self._ns, self._recording, self._extra)
        self._recording, self._extra = False, 0
        try:
            if isinstance(doc, str):
                self._pre = _EVERYTHING
                inner = self._value("", doc, frozenset(), False) if doc else None
                n = 0 if inner is None else 1
                doc = doc if inner is None else inner
            else:
                self.learn_secrets(doc)
                if isinstance(doc, dict):
                    # judged from its own JSON text, like a reply (the hot strings, known values)
                    pre = self.precheck(value.encode("utf-8", "surrogatepass"), doc)
                    n = self._walk(lambda p: self._document(doc, None, p), pre)
                else:
                    n = self._list_at(doc, _EVERYTHING) if isinstance(doc, list) else 0
            n = n + self._extra if n else 0
        finally:
            self._pre, self._path, self._kind, self._ns, self._recording, self._extra = saved
        if not n:
            return value, 0
        text = dumps(doc).decode()
        if value.endswith("\n"):
            text += "\n"
        return text, n

    def _known_only(self, value: str) -> tuple[str, int]:
        generation = len(self.seen)
        cache = self._known_clean
        if cache.get(value) == generation:
            return value, 0   # checked since the last value was learned: still clean
        spans = self.seen.find(value)
        if not spans:
            if len(value) <= _CLEAN_TEXT_LEN:
                if len(cache) >= _KEY_CACHE:
                    cache.clear()
                cache[value] = generation
            return value, 0
        out: list[str] = []
        pos = 0
        of_text = self._ph.of_text
        for s, e in spans:
            out.append(value[pos:s])
            out.append(of_text(value[s:e]))
            pos = e
        out.append(value[pos:])
        return "".join(out), len(spans)

    def _known_tree(self, node: Any) -> int:
        """A harmless subtree: only known values are looked for (in keys and values)."""
        n = 0
        needs_known = self._pre.needs_known
        if isinstance(node, dict):
            renames = []
            for k, v in node.items():
                new_k, c = self._known_only(k) if needs_known(k) else (k, 0)
                if c:
                    renames.append((k, new_k))
                if isinstance(v, str) and needs_known(v):
                    new, c = self._known_only(v)
                    if c:
                        node[k] = new
                        n += c
                elif isinstance(v, dict | list):
                    n += self._known_tree(v)
            for old, new_k in renames:
                node[new_k] = node.pop(old)
                n += 1
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, str) and needs_known(v):
                    new, c = self._known_only(v)
                    if c:
                        node[i] = new
                        n += c
                elif isinstance(v, dict | list):
                    n += self._known_tree(v)
        return n

    def _issue(self, key: str, original: str, masked: str, learn: str | None = None) -> str:
        """Record where ``masked`` was issued (for write-back) and learn the secret value."""
        if learn is not None:
            self._learned.append(learn)
        if self._recording:
            slot = slot_of(self._kind, (*self._path, key))
            if PREFIX in original:
                # masked again in a second pass: the real string is what the first pass replaced
                original = self.issued.original(self._ns, slot, original) or original
            self.issued.record(self._ns, slot, masked, original)
        return masked

    # -- keys --------------------------------------------------------------------------------

    def _key_sensitive(self, key: str) -> bool:
        s = self._sensitive.get(key)
        if s is None:
            if len(self._sensitive) >= _KEY_CACHE:
                self._sensitive.clear()
            s = self._sensitive[key] = key_is_sensitive(key)
        return s

    def _pair_sensitive(self, name: str) -> bool:
        s = self._env_sensitive.get(name)
        if s is None:
            if len(self._env_sensitive) >= _KEY_CACHE:
                self._env_sensitive.clear()
            s = self._env_sensitive[name] = (self._key_sensitive(name)
                                             or self._env.search(name) is not None)
        return s

    def _key_suspect(self, key: str) -> bool:
        pre = self._pre
        if pre.needs_known(key):
            return True
        if key in self._clean_keys or (pre.hot is not None and key not in pre.hot):
            return False
        return pre.detect == ALL or (pre.detect == SOME and pre.escapable.search(key)
                                     is not None)

    def _mask_key(self, key: str) -> str | None:
        """A map key is text too (ConfigMap keys, label keys): detectors and known values."""
        pre = self._pre
        if pre.detect and (pre.hot is None or key in pre.hot):
            new, c = self._scan.mask(key)
            if not c and len(self._clean_keys) < _KEY_CACHE:
                self._clean_keys.add(key)
        else:
            new, c = key, 0
        new, k = self._known_only(new) if pre.needs_known(key) else (new, 0)
        if not (c or k):
            return None
        return new

    # -- Secrets and ConfigMap binaryData ----------------------------------------------------

    def _secret(self, o: dict[str, Any]) -> int:
        n = 0
        data = o.get("data")
        if isinstance(data, dict):
            of_b64 = self._ph.of_base64
            self._path.append("data")
            for k, v in list(data.items()):
                if isinstance(v, str) and v:
                    if self._is_certificate(v):
                        continue
                    nv = of_b64(v)
                    if nv is not v:
                        data[k] = self._issue(k, v, nv)
                        n += 1
            self._path.pop()
            n += self._rename_keys(data)
        sdata = o.get("stringData")
        if isinstance(sdata, dict):
            of_text = self._ph.of_text
            self._path.append("stringData")
            for k, v in list(sdata.items()):
                if isinstance(v, str) and v and not is_placeholder(v):
                    sdata[k] = self._issue(k, v, of_text(v))
                    n += 1
            self._path.pop()
            n += self._rename_keys(sdata)
        return n

    def _rename_keys(self, d: dict[str, Any]) -> int:
        renames = []
        for key in d:
            if self._key_suspect(key):
                new_key = self._mask_key(key)
                if new_key is not None:
                    renames.append((key, new_key))
        for old, new in renames:
            d[new] = d.pop(old)
        return len(renames)

    def _is_certificate(self, value: str) -> bool:
        """Base64 of PEM ``CERTIFICATE`` blocks and nothing else (no key): public."""
        if not self._show_certs or len(value) < 64:
            return False
        cached = self._certs.get(value)
        if cached is None:
            cached = public_certificates(value)
            if len(self._certs) >= _NESTED_CACHE:
                self._certs.clear()
            self._certs[value] = cached
        return cached

    def _binary_data(self, o: dict[str, Any]) -> int:
        """ConfigMap ``binaryData``: decode, check as Latin-1 text, re-encode only on a hit."""
        bdata = o.get("binaryData")
        if not isinstance(bdata, dict):
            return 0
        n = 0
        self._path.append("binaryData")
        for k, v in bdata.items():
            if not isinstance(v, str) or not v:
                continue
            if self._key_sensitive(k):
                nv = self._ph.of_base64(v)
                if nv is not v:
                    bdata[k] = self._issue(k, v, nv)
                    n += 1
                continue
            try:
                raw = binascii.a2b_base64(v, strict_mode=True)
            except (binascii.Error, ValueError):
                new = self._value(k, v, frozenset(), False)
                if new is not None:
                    bdata[k] = new
                    n += 1
                continue
            text = raw.decode("latin-1")
            new, c = self._scan.mask(text)
            new, kc = self._known_only(new)
            if c or kc:
                enc = new.encode("latin-1", "replace")
                bdata[k] = self._issue(k, v, binascii.b2a_base64(enc, newline=False).decode())
                n += c + kc
        self._path.pop()
        return n + self._rename_keys(bdata)


class _NotJson:
    pass


_NOT_JSON: Any = _NotJson()


def _recur(text: str, learned: list[str], escapable: re.Pattern[str]) -> bool:
    """Does a value learned in a walk occur in the object's JSON ``text`` more often than it
    was masked (or in a form the raw text may spell differently, or remembered in another: a
    value with blanks around it is known stripped, and found so elsewhere)? Many values (a whole
    List parsed at once) are counted in one automaton pass, not one ``count`` each."""
    if len(learned) <= 16:
        return any(escapable.search(v) or v != v.strip() or text.count(v) > learned.count(v)
                   for v in set(learned))
    masked = Counter(learned)
    if any(escapable.search(v) or v != v.strip() for v in masked):
        return True
    values = list(masked)
    # overlapping occurrences count at least as many as ``str.count``: never fewer re-walks
    try:
        matches = AhoCorasick(values).find_matches_as_indexes(text, overlapping=True)
    except (UnicodeError, ValueError):
        return True   # lone surrogates the automaton cannot take: walk again, to be safe
    seen = Counter(i for i, _, _ in matches)
    return any(seen[i] > masked[v] for i, v in enumerate(values))


def _maskable(value: str) -> bool:
    return bool(value) and not is_placeholder(value) and not is_reference(value)


def _namespace_of(o: Any) -> str:
    if isinstance(o, dict):
        md = o.get("metadata")
        if isinstance(md, dict):
            ns = md.get("namespace")
            if isinstance(ns, str):
                return ns
    return ""
