"""Free-text detectors: find secrets in ConfigMap values, annotations, events, logs, exec output.

A ``TextScanner`` turns text into a list of *edits* (span, replacement, placeholder) and applies
them. Working with edits rather than ``re.sub`` lets the streaming code mask a window of a line
whose beginning was already emitted (``mask(text, lo, hi)``) without leaking the part of a secret
that straddles the window's edge.

Speed: most text contains none of the detectors' keywords, so a lower-cased substring check
(C speed) decides which detectors can possibly match, and only those are combined into one
regex (compiled once per combination) for a single pass. Every detector keeps the key or the
shape around a secret (``API_TOKEN=kgate:masked:…``, ``scheme://user:kgate:masked:…@host``) and
leaves an existing placeholder alone, so masking masked text changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import NamedTuple

import orjson

from .placeholders import PLACEHOLDER_RE, PREFIX, Placeholders, is_placeholder
from .settings import MaskingSettings


class Edit(NamedTuple):
    """Replace ``text[start:end]`` with ``repl``; ``ph`` alone stands for a clipped remainder."""

    start: int
    end: int
    repl: str
    ph: str


# --- the built-in detectors: (regex with one outer named group, lower-case keywords) -----------

_PEM = (
    r"-----BEGIN (?P<pem_label>(?:[A-Z0-9]+ )*)PRIVATE KEY-----(?P<pem_body>(?s:.*?))"
    r"(?:(?P<pem_end>-----END (?P=pem_label)PRIVATE KEY-----)|\Z)"
)
_AWS = (
    r"(?<![A-Za-z0-9])(?P<aws_id>(?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Za-z0-9])"
    r"|(?i:aws_secret_access_key|aws_secret_key|secretaccesskey)[\"']?[ \t]*[:=][ \t]*[\"']?"
    r"(?P<aws_sk>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
)
_JWT = (
    r"(?<![A-Za-z0-9_-])(?P<jwt_tok>eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)"
    r"(?![A-Za-z0-9_.-])"
)
_GITHUB = (
    r"(?<![A-Za-z0-9_])(?P<gh_tok>gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"
    r"(?![A-Za-z0-9_])"
)
_GITLAB = r"(?<![A-Za-z0-9_-])(?P<gl_tok>glpat-[A-Za-z0-9_.-]{20,})(?![A-Za-z0-9_-])"
_SLACK = (
    r"(?<![A-Za-z0-9])(?P<sl_tok>xox[abprs]-[A-Za-z0-9-]{10,})(?![A-Za-z0-9-])"
    r"|https://hooks\.slack\.com/(?:services|workflows)/(?P<sl_hook>[A-Za-z0-9/_-]{16,})"
)
_URL = (
    r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s:/?#@\"'<>]+:"
    r"(?P<url_pw>[^\s@/?#\"'<>]+)@"
)
_ASSIGN = (
    r"(?<![A-Za-z0-9_.-])(?P<as_key>[A-Za-z0-9_.-]*?"
    r"(?i:pass|pwd|secret|token|credential|key|auth)[A-Za-z0-9_.-]*)"
    r"\\?[\"']?[ \t]*(?P<as_sep>[:=])[ \t]*"
    r"(?:\\\"(?P<as_eq>(?:[^\"\\\n]|\\[^\"\n])*)\\\""
    r"|\"(?P<as_dq>(?:[^\"\\\n]|\\.)*)\""
    r"|'(?P<as_sq>[^'\n]*)'"
    r"|(?P<as_bare>(?:(?i:bearer|basic|token)[ \t]+)?[^\s\"'&]+))"
)

_BUILTIN: dict[str, tuple[str, tuple[str, ...]]] = {
    "private-key": (_PEM, ("private key-----",)),
    "aws-key": (_AWS, ("akia", "asia", "aws_secret", "secretaccesskey")),
    "jwt": (_JWT, ("eyj",)),
    "github-token": (_GITHUB, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    "gitlab-token": (_GITLAB, ("glpat-",)),
    "slack-token": (_SLACK, ("xox", "hooks.slack.com")),
    "url-password": (_URL, ("://",)),
    "assignment": (_ASSIGN, ("pass", "pwd", "secret", "token", "credential", "key", "auth")),
}

# --- assignment keys: which key names hold secrets -------------------------------------------

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SENSITIVE = frozenset({
    "password", "passwords", "passwd", "pass", "pwd", "passphrase", "passcode",
    "secret", "secrets", "token", "tokens", "credential", "credentials",
    "apikey", "accesskey", "privatekey", "secretkey", "authorization",
})
_SENSITIVE_PAIRS = frozenset({
    ("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"),
    ("auth", "key"), ("signing", "key"), ("encryption", "key"), ("master", "key"),
    ("session", "key"), ("account", "key"), ("client", "key"), ("shared", "key"),
})
# Keys that *name* or *describe* a secret rather than hold one (``secretName: db``).
_NOT_A_VALUE = frozenset({
    "file", "path", "dir", "ref", "refs", "name", "names", "length", "len", "policy", "type",
    "mode", "count", "ttl", "expiry", "expires", "enabled", "required", "url", "uri", "endpoint",
    "id", "kind", "format", "field", "source", "namespace", "version", "env", "config", "header",
    "prefix", "hint", "strength", "min", "max", "age", "rotation", "template",
})
_REFERENCE = re.compile(
    r"^(?:\$\{.*\}|\$\(.*\)|\$[A-Za-z_][A-Za-z0-9_]*|\{\{.*\}\}|%\(.*\)s|<[^<>]*>|\*+|x{3,}|X{3,}|"
    r"(?i:null|none|nil|true|false|undefined|redacted|\[redacted\]|changeme|example))$"
)
_AUTH_SCHEME = re.compile(r"^(?i:bearer|basic|token)[ \t]+")


def key_is_sensitive(key: str) -> bool:
    """``API_TOKEN``, ``db.password``, ``clientSecret`` yes; ``tokenizer``, ``secretName`` no."""
    words = [w.lower() for w in _WORDS.findall(key)]
    if not words or words[-1] in _NOT_A_VALUE:
        return False
    if words[-1] == "auth" or any(w in _SENSITIVE for w in words):
        return True
    return any(pair in _SENSITIVE_PAIRS for pair in zip(words, words[1:], strict=False))


def is_reference(value: str) -> bool:
    """An empty value, ``${VAR}``, ``$(VAR)``, ``{{ .x }}``, ``***``, ``null``… is not a secret."""
    return not value.strip() or _REFERENCE.match(value.strip()) is not None


def _b64url_json(segment: str) -> object:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return orjson.loads(raw)
    except (binascii.Error, ValueError):
        return None


class TextScanner:
    """Finds and masks secrets in text, under one settings object and one placeholder key."""

    def __init__(self, settings: MaskingSettings, placeholders: Placeholders) -> None:
        self._ph = placeholders
        self._active = tuple(d for d in settings.detectors)
        self._combined: dict[frozenset[str], re.Pattern[str]] = {}
        self._custom = [(name, re.compile(rx)) for name, rx in settings.custom]
        self._handlers: dict[str, Callable[[re.Match[str]], Edit | None]] = {
            "private_key": self._pem,
            "aws_key": self._aws,
            "jwt": self._jwt,
            "github_token": self._token,
            "gitlab_token": self._token,
            "slack_token": self._slack,
            "url_password": self._url,
            "assignment": self._assignment,
        }

    @property
    def enabled(self) -> bool:
        return bool(self._active or self._custom)

    # -- public ------------------------------------------------------------------------------

    def mask(self, text: str, lo: int = 0, hi: int | None = None) -> tuple[str, int]:
        """Masked ``text[lo:hi]`` and the number of values replaced.

        Detectors see all of ``text``; an edit that began before ``lo`` (already emitted by a
        streaming caller) has its remainder replaced by its placeholder, an edit running past
        ``hi`` is replaced whole here.
        """
        if hi is None:
            hi = len(text)
        edits = self.edits(text)
        if not edits:
            return (text if lo == 0 and hi == len(text) else text[lo:hi]), 0
        out: list[str] = []
        pos, count = lo, 0
        for e in edits:
            if e.end <= lo or e.start >= hi or e.end <= pos:
                continue
            if e.start >= lo:
                out.append(text[pos:e.start])
                out.append(e.repl)
            else:
                out.append(e.ph)
            count += 1
            pos = min(e.end, hi)
        out.append(text[pos:hi])
        return "".join(out), count

    def edits(self, text: str) -> list[Edit]:
        """All edits for ``text``, sorted and non-overlapping."""
        edits: list[Edit] = []
        if self._active:
            pattern = self._pattern_for(text)
            if pattern is not None:
                handlers = self._handlers
                for m in pattern.finditer(text):
                    group = m.lastgroup
                    if group is not None:
                        edit = handlers[group](m)
                        if edit is not None:
                            edits.append(edit)
        for _name, rx in self._custom:
            for m in rx.finditer(text):
                edit = self._custom_edit(m)
                if edit is not None:
                    edits.append(edit)
        if not edits:
            return edits
        if PREFIX in text:
            edits = self._drop_placeholders(text, edits)
        return self._merge(text, edits) if len(edits) > 1 else edits

    # -- building the combined regex ---------------------------------------------------------

    def _pattern_for(self, text: str) -> re.Pattern[str] | None:
        low = text.lower()
        hit = frozenset(
            name for name in self._active
            if any(k in low for k in _BUILTIN[name][1])
        )
        if not hit:
            return None
        pattern = self._combined.get(hit)
        if pattern is None:
            parts = [
                f"(?P<{name.replace('-', '_')}>{_BUILTIN[name][0]})"
                for name in self._active if name in hit
            ]
            pattern = re.compile("|".join(parts))
            self._combined[hit] = pattern
        return pattern

    # -- post-processing ---------------------------------------------------------------------

    @staticmethod
    def _drop_placeholders(text: str, edits: list[Edit]) -> list[Edit]:
        spans = [(m.start(), m.end()) for m in PLACEHOLDER_RE.finditer(text)]
        if not spans:
            return edits
        return [
            e for e in edits
            if not any(s < e.end and e.start < t for s, t in spans)
        ]

    def _merge(self, text: str, edits: list[Edit]) -> list[Edit]:
        edits.sort(key=lambda e: (e.start, -e.end))
        merged: list[Edit] = [edits[0]]
        for e in edits[1:]:
            last = merged[-1]
            if e.start >= last.end:
                merged.append(e)
            elif e.end > last.end:
                start, end = last.start, e.end
                ph = self._ph.of_text(text[start:end])
                merged[-1] = Edit(start, end, ph, ph)
        return merged

    # -- detector handlers -------------------------------------------------------------------

    def _value(self, m: re.Match[str], group: str | int) -> Edit | None:
        value = m.group(group)
        if value is None or is_placeholder(value):
            return None
        ph = self._ph.of_text(value)
        return Edit(m.start(group), m.end(group), ph, ph)

    def _pem(self, m: re.Match[str]) -> Edit | None:
        body = m.group("pem_body")
        core = body.strip()
        if not core or is_placeholder(core):
            return None
        label = m.group("pem_label")
        ph = self._ph.of_text(core)
        if "\r\n" in body:
            sep = "\r\n"
        elif "\n" in body:
            sep = "\n"
        elif "\\n" in body:
            sep = "\\n"
        else:
            sep = ""
        begin = f"-----BEGIN {label}PRIVATE KEY-----"
        if m.group("pem_end") is not None:
            repl = f"{begin}{sep}{ph}{sep}-----END {label}PRIVATE KEY-----"
        else:
            tail = sep if sep and body.endswith(sep) else ""
            repl = f"{begin}{sep}{ph}{tail}"
        return Edit(m.start(), m.end(), repl, ph)

    def _aws(self, m: re.Match[str]) -> Edit | None:
        return self._value(m, "aws_id" if m.group("aws_id") is not None else "aws_sk")

    def _jwt(self, m: re.Match[str]) -> Edit | None:
        token = m.group("jwt_tok")
        header = _b64url_json(token.split(".", 1)[0])
        if not isinstance(header, dict) or "alg" not in header:
            return None
        return self._value(m, "jwt_tok")

    def _token(self, m: re.Match[str]) -> Edit | None:
        group = "gh_tok" if m.group("gh_tok") is not None else "gl_tok"
        return self._value(m, group)

    def _slack(self, m: re.Match[str]) -> Edit | None:
        return self._value(m, "sl_tok" if m.group("sl_tok") is not None else "sl_hook")

    def _url(self, m: re.Match[str]) -> Edit | None:
        if is_reference(m.group("url_pw")):
            return None
        return self._value(m, "url_pw")

    def _assignment(self, m: re.Match[str]) -> Edit | None:
        if not key_is_sensitive(m.group("as_key")):
            return None
        for group in ("as_dq", "as_sq", "as_eq", "as_bare"):
            value = m.group(group)
            if value is not None:
                break
        else:  # pragma: no cover - the regex guarantees one alternative
            return None
        start, end = m.start(group), m.end(group)
        text = m.string
        if group == "as_bare" and m.group("as_sep") == ":" and _starts_line(text, m.start()):
            # YAML-ish ``password: two words`` — the value runs to the end of the line.
            eol = text.find("\n", end)
            eol = len(text) if eol < 0 else eol
            end = len(text[:eol].rstrip())
            value = text[start:end]
        scheme = _AUTH_SCHEME.match(value)
        if scheme:
            start += scheme.end()
            value = text[start:end]
        if is_reference(value) or is_placeholder(value):
            return None
        ph = self._ph.of_text(value)
        return Edit(start, end, ph, ph)

    def _custom_edit(self, m: re.Match[str]) -> Edit | None:
        if "value" in m.re.groupindex:
            group: str | int = "value"
        elif m.re.groups >= 1:
            group = 1
        else:
            group = 0
        if m.group(group) is None or m.start(group) == m.end(group):
            return None
        return self._value(m, group)


def _starts_line(text: str, pos: int) -> bool:
    """Only indentation (or a YAML list dash) precedes ``pos`` on its line."""
    sol = text.rfind("\n", 0, pos) + 1
    return text[sol:pos].strip(" \t-") == ""
