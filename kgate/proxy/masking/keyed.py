"""Values that follow a sensitive key, in every syntax a config file, log or manifest uses.

The ``assignment`` detector is tried where a secret word (``pass``, ``token``, ``key``…) occurs;
the scanner steps back to the start of the key word and hands the key match here. The key is
decoded (``pass\\u0077ord``) and judged by ``keys.key_is_sensitive`` — the same function the
object walker uses — and only then is the value found, by what follows the key:

* ``key=value``, ``key: value``, ``"key": "value"``, ``key => 'value'``, ``\\"key\\":\\"v\\"``;
  quoted values may hold spaces (``'it''s'`` is YAML's escaped quote);
* YAML: block scalars (``key: |`` / ``>-`` and the more-indented lines below), plain values on
  the next lines, anchors and tags (``key: &pw !!str value``) and aliases (``key: *pw`` masks
  the value where ``&pw`` is defined, whatever key holds it);
* XML elements ``<password>v</password>`` (CDATA too) — attributes are ``key="v"`` above;
* a sensitive *name* followed by its value: ``{"name": "DB_PASSWORD", "value": "v"}``,
  ``- name: DB_PASSWORD`` / ``value: v``, ``<add key="DbPassword" value="v"/>``;
* ``key value`` without a separator, only where that is a known syntax: ``--password v`` and
  other flags, ``password 'quoted'`` (SQL ``PASSWORD 'v'``), ``PASSWORD('v')``, the ``.netrc``
  line (``machine h login u password p``), directives such as ``requirepass``/``masterauth``,
  ``bearer <token>``, and a config line that is just ``key value`` where the value looks
  generated (letters and digits or symbols mixed) — so prose like "the token was rotated" or
  "token expired" is left alone.

Every handler keeps the key and the syntax around the value and leaves placeholders alone.
"""

from __future__ import annotations

import re

from .edit import Edit
from .keys import counts_tokens, decode_key, is_reference, key_is_sensitive
from .placeholders import Placeholders, is_placeholder

#: The key word at which the regex is tried (JSON ``\\u`` and YAML ``\\x`` escapes allowed);
#: bounded, so a long run of key characters is not rescanned from every anchor inside it.
KEY_REGEX = r"(?P<as_key>(?:[A-Za-z0-9_.-]|\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2}){1,256})"

_SEP = re.compile(r"\\?[\"']?[ \t]*(?P<sep>:=|=>|[:=])(?![:=])[ \t]*")
_YAML_PROPS = re.compile(r"(?:(?:&[^\s,\[\]{}]+|![^\s]*)(?:[ \t]+|(?=\r?\n|$)))+")
_ALIAS = re.compile(r"\*(?P<name>[^\s,\[\]{}]+)[ \t]*(?:#.*)?$", re.M)
_BLOCK = re.compile(r"[|>][0-9+-]{0,3}[ \t]*(?:#[^\n]*)?(?=\r?\n|$)")
_EOL = re.compile(r"[ \t]*(?:#[^\n]*)?(?=\r?\n|$)")
_ESC_DQ = re.compile(r"\\\"(?P<v>(?:[^\"\\\n]|\\[^\"\n])*)\\\"")
_DQ = re.compile(r"\"(?P<v>(?:[^\"\\\n]|\\.)*)(?:\"|$)", re.M)
_SQ = re.compile(r"'(?P<v>(?:[^'\n]|'')*)(?:'|$)", re.M)
_BARE = re.compile(r"[^\s\"'&]+")
_BARE_JSON = re.compile(r"[^\s\"'&,}\]]+")
_DQ_LINES = re.compile(r"\"(?P<v>(?:[^\"\\]|\\.)*)\"", re.S)
_SQ_LINES = re.compile(r"'(?P<v>(?:[^']|'')*)'")
_QUOTED_LIMIT = 64 * 1024
_ALIAS_REACH = 256 * 1024
_REFERENCE_LIMIT = 4096
_AUTH_SCHEME = re.compile(r"(?i:bearer|basic|token|digest)[ \t]+(?=[^\s\"'&])")
# ``api token: API_TOKEN=…`` — a bare value that is itself an assignment keeps its inner key.
_NESTED = re.compile(r"^([A-Za-z0-9_.-]+)=(?=[^=\s])")
# ``Password=x;EndpointSuffix=core`` — a connection string's next ``Key=`` ends the value.
_NEXT_FIELD = re.compile(r";[ \t]*[A-Za-z][A-Za-z0-9 _.-]*=")
_MAPPING_LINE = re.compile(r"[ \t]*(?:[\"'][^\"'\n]*[\"']|[^\s:#\"'-][^:#\n]*):(?:[ \t]|$)")
_XML_OPEN = re.compile(r"(?:[ \t\r\n][^<>]*)?(?<!/)>")
_CDATA = re.compile(r"[ \t\r\n]*<!\[CDATA\[")
_XML_TEXT = re.compile(r"(?P<v>[^<]*)</")
_NAME_BEFORE = re.compile(r"(?:^|[\s{,\"'<-])(?i:name|key)[\"']?[ \t]*[:=][ \t]*[\"']?$")
_NAMED_JSON = re.compile(r"[\"'][ \t]*,[ \t\r\n]*[\"'](?i:value)[\"'][ \t]*:[ \t]*")
_NAMED_ATTR = re.compile(r"[\"'][ \t\r\n]+(?i:value)[ \t]*=[ \t]*")
_NAMED_YAML = re.compile(r"[\"']?[ \t]*\r?\n[ \t]*(?:-[ \t]+)?value:[ \t]*")
_SPACE = re.compile(r"[ \t]+")
# ``["--password", "v"]`` and ``- --password`` / ``- v``: a flag's value as the next list item.
_FLAG_NEXT = re.compile(r"[\"']?[ \t]*(?:,[ \t\r\n]*|\r?\n[ \t]*-[ \t]+)(?=[^\s-])")
_CALL = re.compile(r"[ \t]*\([ \t]*(?=['\"])")
_NETRC = re.compile(r"(?:^|\s)(?:machine|login|default)\s", re.M)
#: Config directives whose argument is a secret (redis.conf, keepalived, openvpn…).
_DIRECTIVES = frozenset({"requirepass", "masterauth", "auth_pass", "rpcpassword"})
_DIGITS = re.compile(r"^[0-9]+$")
_LOOSE_QUOTED = re.compile(r"[\"'][ \t]+[:=]")
_WORD = re.compile(r"[a-z]+(?![^\s,;])")
_SIZE = re.compile(r"^[0-9]+ bytes$")
#: Keys after which ``key 'quoted'`` is a value (SQL ``PASSWORD 'x'``); ``secret "db"`` in an
#: event message names a Secret instead.
_QUOTED_AFTER = ("password", "passwd", "pass", "pwd", "passphrase")
#: Keys whose value may follow a space in some syntax (``.netrc``, ``bearer <token>``).
_SPACED_WORDS = frozenset({"password", "passwd", "pass", "account", "bearer"})


class KeyedValues:
    """The ``assignment`` detector's handler, bound to one placeholder key."""

    def __init__(self, placeholders: Placeholders) -> None:
        self._ph = placeholders
        #: Alias names already chased in the text being scanned (cleared by ``begin``).
        self._aliases: set[str] = set()

    def begin(self) -> None:
        """A new text: forget what was learned about the last one."""
        if self._aliases:
            self._aliases = set()

    def assignment(self, m: re.Match[str]) -> list[Edit] | Edit | None:
        """Find the value that belongs to the key matched at ``as_key``, if the key is secret."""
        raw = m.group("as_key")
        key = decode_key(raw)
        if not key_is_sensitive(key.lstrip("-")):
            return None
        text, start, end = m.string, m.start("as_key"), m.end("as_key")
        sep = _SEP.match(text, end)
        if sep is not None and not text.startswith(":", sep.end()):
            if _LOOSE_QUOTED.match(text, end) and _WORD.match(text, sep.end()):
                return None   # ``volume "api-token" : secret "x" not found`` (an event message)
            return self._after_sep(text, key, start, sep.end(), sep.group("sep"))
        if start > 0 and text[start - 1] in "<:":
            edit = self._xml_element(text, start, end)
            if edit is not None:
                return edit
        named = self._named_value(text, key, start, end)
        if named is not None:
            return named
        return self._spaced(text, key, start, end)

    # -- key SEP value ------------------------------------------------------------------------

    def _after_sep(self, text: str, key: str, kstart: int, pos: int,
                   sep: str) -> list[Edit] | Edit | None:
        yaml = sep == ":"
        line_start = _starts_line(text, kstart)
        if yaml:
            props = _YAML_PROPS.match(text, pos)
            if props is not None:
                pos = props.end()
            alias = _ALIAS.match(text, pos)
            if alias is not None:
                return self._alias(text, alias.group("name"), pos)
            scalar = _BLOCK.match(text, pos) is not None
            if scalar or _EOL.match(text, pos):
                if line_start or _starts_line(text, kstart, quoted=True):
                    return self._block(text, kstart, scalar)
                return None
        return self._value_at(text, key, pos, yaml and line_start, _json_like(text, kstart))

    def _value_at(self, text: str, key: str, pos: int, to_eol: bool,
                  json_like: bool = False) -> Edit | None:
        """The scalar starting at ``pos``: quoted, escaped-quoted, or bare. ``to_eol``: a YAML
        line, where a plain value runs to the end of the line and a quoted one may continue
        on the next lines; ``json_like``: ``,``, ``}`` and ``]`` end a bare value."""
        if text.startswith('\\"', pos):
            q = _ESC_DQ.match(text, pos)
            return self._span(text, key, *q.span("v")) if q else None
        if text.startswith(("'", '"'), pos):
            one, multi = (_DQ, _DQ_LINES) if text[pos] == '"' else (_SQ, _SQ_LINES)
            q = one.match(text, pos)
            if q is not None and q.end() > q.end("v"):
                return self._span(text, key, *q.span("v"))
            # unterminated on its line: a YAML multi-line quoted scalar, else to the line's end
            q = (multi.match(text, pos, min(len(text), pos + _QUOTED_LIMIT)) if to_eol
                 else None) or q
            return self._span(text, key, *q.span("v")) if q else None
        if text.startswith(("{", "[", "#"), pos):
            return None   # a nested object or list: its own keys are judged on their own
        scheme = _AUTH_SCHEME.match(text, pos)
        if scheme is not None:
            pos = scheme.end()            # ``Authorization: Bearer <token>`` keeps the scheme
        bare = (_BARE_JSON if json_like else _BARE).match(text, pos)
        if bare is None:
            return None
        start, end = bare.span()
        if to_eol and not json_like:
            # YAML-ish ``password: two words # comment`` — the value runs to the end of the line.
            eol = _line_end(text, end)
            line = text[start:eol]
            hash_at = line.find(" #")
            end = start + len((line if hash_at < 0 else line[:hash_at]).rstrip())
        value = text[start:end]
        if value.startswith("<") and ">" in value:
            return None                   # kubectl describe: ``<set to the key 'x' in secret…>``
        if _SIZE.match(value):
            return None                   # kubectl describe secret: ``password:  16 bytes``
        nested = _NESTED.match(value)
        if nested and key_is_sensitive(nested.group(1)):
            start += nested.end()
            value = text[start:end]
        cut = _NEXT_FIELD.search(value)
        if cut:
            end = start + cut.start()
        elif value.endswith(";") and len(value) > 1:
            end -= 1                      # ``Password=x;`` — a terminator, not the value
        return self._span(text, key, start, end)

    def _span(self, text: str, key: str, start: int, end: int) -> Edit | None:
        value = text[start:end]
        # A long value is never a reference: masking it also covers the anchors inside it, so a
        # long line of ``password=${X}password=${X}…`` is not rescanned per anchor.
        if len(value) <= _REFERENCE_LIMIT and (is_reference(value)
                                               or is_placeholder(value.strip())):
            return None
        if _DIGITS.match(value) and counts_tokens(key):
            return None   # ``tokens: 2048`` counts tokens; a token is never digits only
        ph = self._ph.of_text(value)
        return Edit(start, end, ph, ph)

    # -- YAML: values below the key ------------------------------------------------------------

    def _block(self, text: str, kstart: int, scalar: bool) -> Edit | None:
        """A block scalar (``scalar``: after ``|``/``>``) or a plain value or list on the
        following lines; a nested mapping is left to its own keys."""
        sol = text.rfind("\n", 0, kstart) + 1
        indent = len(text[sol:kstart]) - len(text[sol:kstart].lstrip(" \t"))
        key_line_plain = text[sol:kstart].strip(" \t") == ""
        pos = _line_end(text, kstart)
        first, last = -1, -1
        lines: list[str] = []
        items = False                 # ``passwords:`` then ``- a`` at the key's own indent
        while pos < len(text):
            nxt = pos + 1
            eol = _line_end(text, nxt)
            line = text[nxt:eol]
            body = line.strip()
            lead = len(line) - len(line.lstrip(" \t"))
            if body:
                if lead <= indent:
                    if not (body.startswith("- ") and lead == indent and key_line_plain
                            and not scalar and (items or not lines)):
                        break
                    items = True
                if not lines and not scalar and not body.startswith("- ") \
                        and _MAPPING_LINE.match(line):
                    return None   # a nested mapping: its keys are judged on their own
                if first < 0:
                    first = nxt + lead + (2 if body.startswith("- ") and not scalar else 0)
                last = nxt + len(line.rstrip())
                lines.append(body)
            pos = eol
        if first < 0 or first >= last:
            return None
        value = "\n".join(lines)
        if is_reference(value) or is_placeholder(value):
            return None
        ph = self._ph.of_text(value)
        return Edit(first, last, ph, ph)

    def _alias(self, text: str, name: str, at: int) -> list[Edit] | None:
        """``password: *pw``: mask the value wherever ``&pw`` is defined in this text."""
        done = self._aliases
        if name in done:
            return None                   # this text's ``&name`` values are masked already
        done.add(name)
        edits: list[Edit] = []
        marker = "&" + name
        # definitions near the alias only: a text of many aliases must not cost a full scan each
        lo, hi = max(0, at - _ALIAS_REACH), min(len(text), at + _ALIAS_REACH)
        pos = text.find(marker, lo, hi)
        while pos >= 0:
            after = pos + len(marker)
            if after >= len(text) or text[after] in " \t\r\n":
                sol = max(text.rfind("\n", max(0, pos - 4096), pos) + 1, pos - 4096)
                probe = _YAML_PROPS.match(text, pos)
                vpos = probe.end() if probe else after
                if _BLOCK.match(text, vpos) or _EOL.match(text, vpos):
                    scalar = _BLOCK.match(text, vpos) is not None
                    edit = self._block(text, sol + (len(text[sol:pos])
                                                    - len(text[sol:pos].lstrip())), scalar)
                else:
                    edit = self._value_at(text, "", vpos, _starts_line_yaml(text, sol, pos))
                if edit is not None:
                    edits.append(edit)
            pos = text.find(marker, after, hi)
        return edits or None

    # -- XML and name/value pairs -------------------------------------------------------------

    def _xml_element(self, text: str, start: int, end: int) -> Edit | None:
        if text[start - 1] == ":":
            lt = text.rfind("<", max(0, start - 64), start)
            if lt < 0 or not text[lt + 1:start - 1].replace("-", "").replace(".", "").isalnum():
                return None
        head = _XML_OPEN.match(text, end)
        if head is None:
            return None
        cdata = _CDATA.match(text, head.end())
        if cdata is not None:
            close = text.find("]]>", cdata.end(), cdata.end() + _QUOTED_LIMIT)
            return self._span(text, "", cdata.end(), close if close >= 0 else _line_end(
                text, cdata.end()))
        body = _XML_TEXT.match(text, head.end())
        if body is None:
            return None
        s, e = body.span("v")
        value = text[s:e]
        s += len(value) - len(value.lstrip())
        e -= len(value) - len(value.rstrip())
        return self._span(text, "", s, e) if e > s else None

    def _named_value(self, text: str, key: str, start: int, end: int) -> Edit | None:
        """``"name": "DB_PASSWORD", "value": "…"`` and its YAML and XML-attribute forms."""
        window = text[max(0, start - 40):start].lower()
        if ("name" not in window and "key" not in window) or _NAME_BEFORE.search(
                text, max(0, start - 40), start) is None:
            return None
        for rx, to_eol in ((_NAMED_JSON, False), (_NAMED_ATTR, False), (_NAMED_YAML, True)):
            after = rx.match(text, end)
            if after is not None:
                return self._value_at(text, key, after.end(), to_eol)
        return None

    # -- key value, without a separator --------------------------------------------------------

    def _spaced(self, text: str, key: str, start: int, end: int) -> Edit | None:
        nxt = text[end:end + 1]
        if nxt not in (" ", "\t", "(", '"', "'", ",", "\n", "\r"):
            return None                          # the common case in prose and code: no value
        word = key.lower()
        flag = key.startswith("-")
        if nxt == " " and not (flag or word in _DIRECTIVES or word in _SPACED_WORDS
                               or word.endswith(_QUOTED_AFTER)) \
                and not _starts_line(text, start):
            return None                          # ``the token was rotated``
        call = _CALL.match(text, end) if word == "password" else None
        if call is not None:                     # SQL PASSWORD('…')
            return self._value_at(text, key, call.end(), False)
        if flag:
            item = _FLAG_NEXT.match(text, end)
            if item is not None:
                return self._value_at(text, key, item.end(), text[item.end() - 1] in " \t")
        gap = _SPACE.match(text, end)
        if gap is None or gap.end() >= len(text) or text[gap.end()] in "\r\n":
            return None
        pos = gap.end()
        if text[pos] in "'\"":                   # password 'quoted', requirepass "x"
            if start > 0 and text[start - 1] in "'\"":
                return None                      # ``{'pass ', 'PASS '}``: a string's end
            if word.endswith(_QUOTED_AFTER) or word in _DIRECTIVES or key.startswith("-"):
                return self._value_at(text, key, pos, False)
            return None
        if key.startswith("-"):                  # --password v, -db-password v
            return None if text[pos] == "-" else self._value_at(text, key, pos, False)
        bare = _BARE.match(text, pos)
        if bare is None:
            return None
        value = bare.group()
        if word in _DIRECTIVES:
            return self._value_at(text, key, pos, False)
        if word in ("password", "passwd", "pass", "account") and _NETRC.search(
                text, max(text.rfind("\n", max(0, start - 256), start) + 1, start - 256),
                start):
            return self._value_at(text, key, pos, False)
        if word == "bearer" and len(value) >= 8 and _looks_generated(value):
            return self._value_at(text, key, pos, False)
        if (_starts_line(text, start) and _EOL.match(text, bare.end())
                and _looks_generated(value.rstrip(".,;:!?)"))):
            return self._value_at(text, key, pos, False)
        return None


def _looks_generated(value: str) -> bool:
    """At least six characters mixing two of: lower, upper, digits, symbols — not prose."""
    if len(value) < 6:
        return False
    classes = (any(c.islower() for c in value) + any(c.isupper() for c in value)
               + any(c.isdigit() for c in value) + any(not c.isalnum() for c in value))
    return classes >= 2 and not (value[:1].isupper() and value[1:].islower())


def _json_like(text: str, kstart: int) -> bool:
    """A quoted key or one inside ``{…, …}``: JSON or a YAML flow mapping."""
    before = text[max(0, kstart - 3):kstart].rstrip(" \t")
    return before.endswith(("\"", "'", "{", ","))


def _line_end(text: str, pos: int) -> int:
    eol = text.find("\n", pos)
    return len(text) if eol < 0 else eol


def _starts_line(text: str, pos: int, quoted: bool = False) -> bool:
    """Only indentation or a YAML list dash (and, if ``quoted``, a quote) precede ``pos``.

    Walks back over those characters only: never to the start of a long line (a 1 MB log line
    of ``token token …`` must not cost a scan per anchor)."""
    lead = " \t-\"'" if quoted else " \t-"
    while pos > 0 and text[pos - 1] in lead:
        pos -= 1
    return pos == 0 or text[pos - 1] == "\n"


def _starts_line_yaml(text: str, sol: int, pos: int) -> bool:
    """``key: &anchor value`` — the anchor's line is a YAML ``key:`` line."""
    return _MAPPING_LINE.match(text, sol) is not None and text.find("\n", sol, pos) < 0
