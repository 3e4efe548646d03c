"""Streaming maskers: pod logs, NDJSON watch streams, exec/attach channel frames.

All three are fed arbitrary chunks and return what may be emitted *now*, holding back only what
they must, with bounds so a hostile or broken stream cannot grow memory without limit:

* ``LineMasker`` (logs, exec stdout/stderr) holds the incomplete last line. A line longer than
  ``line_limit`` is emitted in pieces, scanning ``overlap`` characters past the cut and
  remembering the emitted tail, so a secret straddling a cut is still masked on both sides.
  Two secrets span lines, and a stream may split them anywhere, so their lines are held until
  they end (a bounded amount, ``block_limit``): a PEM or PGP private key (from a ``BEGIN …
  PRIVATE KEY`` line, lines that look like key material, until the ``END`` line) and a YAML
  value below a sensitive key (``password: |`` or ``password:`` with the value on the next,
  more indented lines, until a line that is not). The held lines are then masked as one text,
  as the same text in an object would be. Only lines that may belong to such a block are held:
  an ordinary line goes out as soon as it is complete. A block that outgrows ``block_limit``,
  or is flushed by the idle timer, is emitted masked, and the rest of it as it arrives is
  masked whole (key lines dropped, YAML lines replaced), never passed on.
* ``WatchMasker`` holds the incomplete last event (one JSON document per line) up to
  ``event_limit``; a truncated or unparseable event is a ``MaskingError``, never passed on.
* ``FrameMasker`` runs one ``LineMasker`` per output channel (1 stdout, 2 stderr).

A stream that *ends* inside a line (``kubectl logs --limit-bytes`` cuts wherever the byte count
runs out) may end with the first half of a secret, which no detector and no known-value match
can recognise. So ``close`` masks such a tail: the longest end of the line that is the beginning
of a known value, and a last word that looks like a cut credential (letters and digits mixed, or a
token prefix such as ``ghp_``), a URL password or a quoted value of a sensitive key whose
closing ``@`` or quote was cut off. Idle flushes (an exec prompt) are not treated so: the process
chose to print that, and what a process may print is the threat model's business, not ours.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .catalogue import key_is_sensitive
from .detectors import TextScanner
from .placeholders import MaskingError

_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*(?:PRIVATE|SECRET) KEY(?: BLOCK)?-----")
_END = re.compile(r"-----END (?:[A-Z0-9]+ )*(?:PRIVATE|SECRET) KEY(?: BLOCK)?-----")
#: The prefix ``kubectl logs --timestamps`` puts on every line (RFC 3339, nanoseconds): the line
#: logic below looks behind it, or an agent could turn the holds off by asking for timestamps.
_TS = r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d) )"
_TS_PREFIX = re.compile(_TS)
# Key material, PEM or PGP armour headers, a PGP checksum (``=AbCd``) or blank, optionally
# behind a log prefix (timestamps etc.). A short unprefixed run ends a key body; a prefixed line
# needs a long run or padding.
_PEMISH = re.compile(
    rf"^{_TS}?+[ \t]*\r?\n?$"
    rf"|^{_TS}?+[ \t]*(?:[A-Za-z0-9+/]{{1,16}}={{0,2}}|=[A-Za-z0-9+/]{{4}})[ \t]*\r?\n?$"
    r"|^(?:[^\n]*[ \t])?(?:[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9+/]*={1,2}"
    r"|(?:Proc-Type|DEK-Info|Comment|Version|Hash|Charset|MessageID):[^\n]*)[ \t]*\r?\n?$"
)
# A YAML line whose value is below it: ``key:`` or ``key: |`` (``>-``, anchors, tags, a
# comment), the key possibly quoted or a list item's. Held if the key is sensitive.
_OPENER = re.compile(
    rf"^{_TS}?+(?P<indent>[ \t]*)"
    r"(?:-[ \t]+)?[\"']?(?P<key>[A-Za-z0-9_.-]{1,256})[\"']?[ \t]*:"
    r"(?:[ \t]+(?:[&!][^\s]*[ \t]*)*(?:[|>][0-9+-]{0,3})?)?[ \t]*(?:#[^\n]*)?\r?$",
    re.M)
# The start of the last line that begins with a non-blank character other than a list item's
# dash (no YAML value of an earlier line runs past it).
_LAST_FLUSH = re.compile(rf"(?s).*\n(?={_TS}?+(?!- )[^ \t\r\n])")

# The last word of a cut stream (6+ of these, then up to two "="): masked if it looks like the
# start of a credential.
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+/.~-")
#: How far before the last quote a sensitive key may start (a quoted value cut by the stream).
_KEY_WINDOW = 256
_CUT_CANDIDATE = re.compile(
    r"(?=[^\d]*\d)(?=[^A-Za-z]*[A-Za-z])"        # letters and digits mixed
    r"|gh[pousr]_|github_pat_|gl[a-z]{2,4}-|xox[a-z]-|xapp-|[sr]k_(?:live|test)_|AKIA|ASIA|eyJ")
# A cut inside a URL's password or inside a quoted value of a sensitive key: the detectors need
# the ``@`` or the closing quote that the cut removed.
_URL_CUT = re.compile(r"://[^\s:/?#@\"'<>]+:(?P<value>[^\s@/?#\"'<>]+)\Z")
_QUOTED_CUT = re.compile(
    r"(?P<key>[A-Za-z0-9_.-]+)[\"']?[ \t]*[:=][ \t]*\\?[\"'](?P<value>[^\"'\n]+)\Z")
#: The detectors ignore texts shorter than this; short known values are matched here.
_SHORT_TEXT = 5

LOG_LINE_LIMIT = 64 * 1024
LOG_OVERLAP = 8 * 1024
PEM_BLOCK_LIMIT = 64 * 1024
WATCH_EVENT_LIMIT = 64 * 1024 * 1024


def _decode(b: bytes | bytearray) -> str:
    return bytes(b).decode("utf-8", "surrogateescape")


def _encode(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _placeholder(scanner: TextScanner, text: str) -> str:
    """The session's placeholder for ``text`` (the scanner holds the session's key)."""
    return scanner._ph.of_text(text)


def _prefix(line: str) -> int:
    """The length of the line's ``--timestamps`` prefix (0 without one)."""
    m = _TS_PREFIX.match(line)
    return m.end() if m is not None else 0


def _indent(line: str) -> int:
    """The indent of the line's text, after its timestamp prefix if it has one."""
    body = line[_prefix(line):]
    return len(body) - len(body.lstrip(" \t"))


def _continues(line: str, indent: int) -> bool:
    """``line`` may belong to the YAML value of a key indented by ``indent``: blank, more
    indented, or a list item at the key's own indent (``passwords:`` then ``- a``)."""
    line = line[_prefix(line):]
    lead = _indent(line)
    if lead == len(line.rstrip("\r\n")):
        return True
    return lead > indent or line.startswith("- ", lead) and lead == indent


def _unprefixed(lines: list[str]) -> tuple[list[str], str]:
    """The lines' timestamp prefixes, and their text without them."""
    cuts = [_prefix(line) for line in lines]
    return ([line[:c] for line, c in zip(lines, cuts, strict=True)],
            "".join(line[c:] for line, c in zip(lines, cuts, strict=True)))


def _reprefixed(prefixes: list[str], text: str) -> str:
    """``text``'s lines behind the prefixes they were read with, in order. Masking may join
    lines (a block value becomes one placeholder): the extra prefixes are dropped."""
    if not any(prefixes):
        return text
    lines = text.splitlines(keepends=True)
    last = prefixes[-1]
    return "".join((prefixes[i] if i < len(prefixes) else last) + line
                   for i, line in enumerate(lines))


def _yaml_start(text: str) -> tuple[int, int] | None:
    """(offset, key indent) of the first line of ``text`` (whole lines) that opens a YAML value
    of a sensitive key running to the end of ``text``, if any: those lines must be held.

    Only lines after the last one that starts unindented can qualify; they are walked back
    from the end once, keeping the least indent that follows (a list item counts half more)."""
    last = _LAST_FLUSH.match(text)
    lo = last.end() if last is not None else 0
    lines = text[lo:].splitlines(keepends=True)
    offset = len(text)
    least = float("inf")
    found: tuple[int, int] | None = None
    for line in reversed(lines):
        offset -= len(line)
        lead = _indent(line)
        opener = _OPENER.match(line)
        if opener is not None and lead < least and key_is_sensitive(opener.group("key")):
            found = (offset, lead)
        if lead < len(line.rstrip("\r\n")):
            least = min(least, lead + (0.5 if line.startswith("- ", lead) else 0))
    return found


def _open_begin(line: str) -> bool:
    """The line starts a PEM block that does not end on the same line."""
    ends = [m.end() for m in _BEGIN.finditer(line)]
    return bool(ends) and _END.search(line, ends[-1]) is None


class LineMasker:
    """Line-wise detectors over a byte stream (the ``ChunkMasker`` of ``Masker.text_stream``)."""

    def __init__(self, scanner: TextScanner | Callable[[], TextScanner], *,
                 line_limit: int = LOG_LINE_LIMIT, overlap: int = LOG_OVERLAP,
                 block_limit: int = PEM_BLOCK_LIMIT) -> None:
        # A scanner keeps state within a call: a stream that may be fed on the masking thread
        # as well as on the event loop gets the calling thread's (``Masker._stream_scanner``).
        self._scanner_of: Callable[[], TextScanner] = (
            (lambda: scanner) if isinstance(scanner, TextScanner) else scanner)
        self._line_limit = line_limit
        self._overlap = overlap
        self._block_limit = block_limit
        self._buf = bytearray()        # the incomplete current line (after what was emitted)
        self._carry = ""              # tail of the current line already emitted (raw)
        self._block: list[str] | None = None   # complete lines of an open PEM block
        self._block_size = 0
        self._swallow = False          # a PEM block was emitted early: drop its key lines
        self._yaml: list[str] | None = None    # held lines of an open YAML value
        self._yaml_indent = 0          # the indent of its key
        self._yaml_size = 0
        self._yaml_swallow: int | None = None  # a YAML value emitted early: its key's indent
        self._drop_line = False        # drop the rest of an over-long key-material line
        self._closing = False          # the stream ended: a cut last line is suspect
        self.masked = 0

    @property
    def _scan(self) -> TextScanner:
        return self._scanner_of()

    # -- ChunkMasker -------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> bytes:
        if not self._scan.enabled:
            return bytes(chunk)
        if self._drop_line:
            nl = chunk.find(b"\n")
            if nl < 0:
                return b""
            chunk = chunk[nl + 1:]
            self._drop_line = False
        self._buf += chunk
        out: list[str] = []
        nl = self._buf.rfind(b"\n")
        if nl >= 0:
            text = _decode(self._buf[:nl + 1])
            del self._buf[:nl + 1]
            out.append(self._complete(text))
        if len(self._buf) > self._line_limit:
            out.append(self._cut(final=False))
        return _encode("".join(out))

    def flush(self) -> bytes:
        """Emit everything held, masked (idle timer or end of stream)."""
        if not self._scan.enabled:
            return b""
        out: list[str] = []
        if self._yaml is not None:
            if self._buf and _continues(_decode(self._buf), self._yaml_indent):
                # a cut or idle line of the value: masked with it
                self._yaml.append(_decode(self._buf))
                self._buf.clear()
            out.append(self._emit_yaml(early=True))
        if self._block is not None:
            out.append(self._emit_block(early=True))
        if self._buf:
            out.append(self._cut(final=True))
        return _encode("".join(out))

    def close(self) -> bytes:
        """End of stream: ``flush``, and an unfinished last line never ends in a partial secret."""
        self._closing = True
        try:
            out = self.flush()
        finally:
            self._closing = False
        self._swallow = False
        self._yaml_swallow = None
        self._drop_line = False
        self._carry = ""
        return out

    # -- complete lines ----------------------------------------------------------------------

    def _complete(self, text: str) -> str:
        """``text`` ends with a newline; its first line continues ``_carry`` if any."""
        out: list[str] = []
        if self._carry:
            nl = text.index("\n") + 1
            first, text = text[:nl], text[nl:]
            full = self._carry + first
            if self._swallow and _PEMISH.match(first):
                pass
            else:
                masked, n = self._scan.mask(full, len(self._carry))
                self.masked += n
                out.append(masked)
                if _open_begin(full):
                    self._swallow = True
            self._carry = ""
        if self._yaml is not None or self._yaml_swallow is not None:
            text = self._yaml_lines(text, out)
        if not text:
            return "".join(out)
        opened = _yaml_start(text)
        if opened is not None:
            head, text = text[:opened[0]], text[opened[0]:]
            out.append(self._lines(head))
            if self._block is not None:
                out.append(self._emit_block(early=False))   # unterminated: masked to its end
            self._swallow = False
            self._yaml, self._yaml_indent, self._yaml_size = [], opened[1], 0
            text = self._yaml_lines(text, out)
            return "".join(out)
        out.append(self._lines(text))
        return "".join(out)

    def _lines(self, text: str) -> str:
        """Complete lines with no YAML value to hold: all at once, or line by line from the
        first that a PEM block may concern."""
        if not text:
            return ""
        out: list[str] = []
        if self._block is None and not self._swallow:
            begin = _BEGIN.search(text)
            if begin is None:
                masked, n = self._scan.mask(text)
                self.masked += n
                return masked
            sol = text.rfind("\n", 0, begin.start()) + 1
            if sol:
                masked, n = self._scan.mask(text[:sol])
                self.masked += n
                out.append(masked)
                text = text[sol:]
        for line in text.splitlines(keepends=True):
            out.append(self._line(line))
        return "".join(out)

    def _yaml_lines(self, text: str, out: list[str]) -> str:
        """Take the lines of an open (or early-emitted) YAML value from the start of ``text``;
        return the rest."""
        pos = 0
        while pos < len(text):
            nl = text.find("\n", pos) + 1 or len(text)
            line = text[pos:nl]
            if self._yaml is not None:
                if self._yaml and not _continues(line, self._yaml_indent):
                    out.append(self._emit_yaml(early=False))
                    break
                self._yaml.append(line)
                self._yaml_size += len(line)
                if self._yaml_size > self._block_limit:
                    out.append(self._emit_yaml(early=True))
            elif self._yaml_swallow is not None:
                if not _continues(line, self._yaml_swallow):
                    self._yaml_swallow = None
                    break
                out.append(self._swallowed(line))
            else:
                break
            pos = nl
        return text[pos:]

    def _swallowed(self, line: str) -> str:
        """A line of a YAML value whose start went out early: replaced whole."""
        body = line.strip()
        if not body:
            return line
        lead = line[:_prefix(line) + _indent(line)]
        end = "\r\n" if line.endswith("\r\n") else "\n" if line.endswith("\n") else ""
        self.masked += 1
        return lead + _placeholder(self._scan, body) + end

    def _emit_yaml(self, *, early: bool) -> str:
        assert self._yaml is not None
        # The value's lines are judged by their indent: without their timestamps.
        prefixes, text = _unprefixed(self._yaml)
        self._yaml = None
        self._yaml_size = 0
        masked, n = self._scan.mask(text)
        masked = _reprefixed(prefixes, masked)
        self.masked += n
        if early:
            self._yaml_swallow = self._yaml_indent
        return masked

    def _line(self, line: str) -> str:
        out = ""
        if self._swallow:
            end = _END.search(line)
            if end is not None:
                self._swallow = False
                masked, n = self._scan.mask(line[end.start():])
                self.masked += n
                return masked
            if _PEMISH.match(line):
                return ""
            self._swallow = False
        if self._block is not None:
            if _END.search(line):
                self._block.append(line)
                return self._emit_block(early=False)
            if not _PEMISH.match(line):
                out = self._emit_block(early=False)   # unterminated: masked to its end
            else:
                self._block.append(line)
                self._block_size += len(line)
                if self._block_size > self._block_limit:
                    return self._emit_block(early=True)
                return ""
        if _open_begin(line):
            self._block = [line]
            self._block_size = len(line)
            return out
        masked, n = self._scan.mask(line)
        self.masked += n
        return out + masked

    def _emit_block(self, *, early: bool) -> str:
        assert self._block is not None
        text = "".join(self._block)
        self._block = None
        self._block_size = 0
        masked, n = self._scan.mask(text)
        self.masked += n
        if early:
            self._swallow = True
        return masked

    # -- over-long or idle partial lines -----------------------------------------------------

    def _cut(self, *, final: bool) -> str:
        held = self._emit_block(early=True) if self._block is not None else ""
        if self._yaml is not None:
            held += self._emit_yaml(early=True)
        text = _decode(self._buf)
        self._buf.clear()
        if self._yaml_swallow is not None and not self._carry:
            if _continues(text, self._yaml_swallow):
                # a line of a value that went out early, too long to hold: replaced whole
                if not final:
                    self._drop_line = True
                return held + self._swallowed(text) + ("\n" if not final else "")
            self._yaml_swallow = None
        if self._swallow and _PEMISH.match(text):
            if not final:
                self._drop_line = True
            return held
        full = self._carry + text
        lo = len(self._carry)
        cut = len(full) if final else max(lo, len(full) - self._overlap)
        if final and self._closing:
            masked, n = self._mask_cut_end(full, lo)
        elif len(full) < _SHORT_TEXT:
            masked, n = self._mask_short(full, lo, cut)
        else:
            masked, n = self._scan.mask(full, lo, cut)
        self.masked += n
        if _open_begin(full[:cut]):
            self._swallow = True
        self._carry = full[max(0, cut - self._overlap):cut]
        self._buf += _encode(full[cut:])
        return held + masked


    def _mask_short(self, text: str, lo: int, hi: int) -> tuple[str, int]:
        """Known values in a text too short for the detectors (a 4-character value, no newline)."""
        known = self._scan.known
        spans = known.find(text) if known else []
        out, pos, n = [], lo, 0
        for start, end in spans:
            if end <= pos or start >= hi:
                continue
            out.append(text[pos:max(pos, start)])
            out.append(_placeholder(self._scan, text[start:end]))
            pos, n = min(end, hi), n + 1
        out.append(text[pos:hi])
        return "".join(out), n

    def _mask_cut_end(self, full: str, lo: int) -> tuple[str, int]:
        """Mask ``full[lo:]``, the last line of a stream that ended without its newline."""
        end = len(full)
        known = self._scan.known
        if known:
            end = min(end, known.partial_suffix(full))
        # Each search starts where its match must begin (the last word, the last "://", the
        # last quote): a plain search for a pattern anchored at the end would retry every
        # position of a long line (quadratic on 64 KiB of word characters).
        word = _last_word_start(full)
        if word is not None and _CUT_CANDIDATE.match(full, word):
            end = min(end, word)
        scheme = full.rfind("://")
        url = _URL_CUT.search(full, scheme) if scheme >= 0 else None
        if url is not None:
            end = min(end, url.start("value"))
        quote = max(full.rfind('"'), full.rfind("'"))
        quoted = (_QUOTED_CUT.search(full, max(0, quote - _KEY_WINDOW)) if quote >= 0
                  else None)
        if quoted is not None and key_is_sensitive(quoted.group("key")):
            end = min(end, quoted.start("value"))
        end = max(end, lo)
        if end == len(full):
            return self._mask_short(full, lo, end) if len(full) < _SHORT_TEXT \
                else self._scan.mask(full, lo, end)
        head, n = (self._mask_short(full, lo, end) if end < _SHORT_TEXT
                   else self._scan.mask(full[:end], lo, end))
        return head + _placeholder(self._scan, full[end:]), n + 1


def _last_word_start(text: str) -> int | None:
    """Start of the last word (``[A-Za-z0-9_+/.~-]{6,}={0,2}`` at the very end), scanning back
    from the end: linear in the word's length."""
    stop = len(text)
    while stop > 0 and len(text) - stop < 2 and text[stop - 1] == "=":
        stop -= 1
    start = stop
    while start > 0 and text[start - 1] in _WORD_CHARS:
        start -= 1
    return start if stop - start >= 6 else None


class WatchMasker:
    """NDJSON watch events split at arbitrary chunk boundaries; each event masked whole."""

    def __init__(self, mask_event: Callable[[bytes], tuple[bytes, int]], *,
                 event_limit: int = WATCH_EVENT_LIMIT) -> None:
        self._mask_event = mask_event
        self._limit = event_limit
        self._buf = bytearray()
        self._scanned = 0   # bytes of _buf known to hold no newline
        self.masked = 0

    def feed(self, chunk: bytes) -> bytes:
        self._buf += chunk
        out: list[bytes] = []
        start = 0
        while True:
            nl = self._buf.find(b"\n", max(start, self._scanned))
            if nl < 0:
                break
            out.append(self._event(bytes(self._buf[start:nl + 1])))
            start = nl + 1
        if start:
            del self._buf[:start]
        self._scanned = len(self._buf)
        if len(self._buf) > self._limit:
            raise MaskingError(
                f"watch event larger than {self._limit} bytes without a line end"
            )
        return b"".join(out)

    def close(self) -> bytes:
        rest = bytes(self._buf)
        self._buf.clear()
        self._scanned = 0
        if not rest.strip():
            return rest
        return self._event(rest)

    def _event(self, line: bytes) -> bytes:
        if not line.strip():
            return line
        body, n = self._mask_event(line)
        self.masked += n
        return body


class FrameMasker:
    """exec/attach WebSocket frames: byte 0 is the channel (v4/v5.channel.k8s.io)."""

    STDOUT, STDERR, CLOSE = 1, 2, 255

    def __init__(self, make_lines: Callable[[], LineMasker]) -> None:
        self._lines = {self.STDOUT: make_lines(), self.STDERR: make_lines()}

    @property
    def masked(self) -> int:
        return sum(lm.masked for lm in self._lines.values())

    def feed(self, frame: bytes) -> list[bytes]:
        if not frame:
            return [frame]
        channel = frame[0]
        lines = self._lines.get(channel)
        if lines is not None:
            out = lines.feed(frame[1:])
            return [bytes([channel]) + out] if out else []
        if channel == self.CLOSE and len(frame) > 1 and frame[1] in self._lines:
            rest = self._lines[frame[1]].close()
            return ([bytes([frame[1]]) + rest] if rest else []) + [frame]
        return [frame]

    def flush(self) -> list[bytes]:
        frames: list[bytes] = []
        for channel, lines in self._lines.items():
            out = lines.flush()
            if out:
                frames.append(bytes([channel]) + out)
        return frames
