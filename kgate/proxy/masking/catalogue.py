"""The detector catalogue: what each built-in detector looks for and how a match becomes an edit.

Each detector is a regex with one outer named group per value, the *anchors* (keywords) where a
match can begin, and a handler that decides whether the match is really a secret and which span
to replace. ``TextScanner`` (``detectors``) owns the machinery that finds anchors and runs these
regexes; keeping the catalogue apart lets a reader add or tune a detector without touching the
scanning and merging code, and lets the scanner change speed tricks without touching detectors.

Every handler keeps the key or the shape around a secret (``API_TOKEN=kgate:masked:…``,
``scheme://user:kgate:masked:…@host``) and leaves an existing placeholder alone, so masking
masked text changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import NamedTuple

import orjson

from .placeholders import Placeholders, is_placeholder


class Edit(NamedTuple):
    """Replace ``text[start:end]`` with ``repl``; ``ph`` alone stands for a clipped remainder."""

    start: int
    end: int
    repl: str
    ph: str


#: Turns one regex match into an edit, or None when the match is not a secret after all.
Handler = Callable[[re.Match[str]], Edit | None]


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
# Stripe secret and restricted keys (``pk_`` publishable keys are public by design).
_STRIPE = r"(?<![A-Za-z0-9_])(?P<st_key>[sr]k_(?:live|test)_[A-Za-z0-9]{16,})(?![A-Za-z0-9_])"
_SLACK = (
    r"(?<![A-Za-z0-9])(?P<sl_tok>xox[abprs]-[A-Za-z0-9-]{10,})(?![A-Za-z0-9-])"
    r"|(?<=https://)hooks\.slack\.com/(?:services|workflows)/(?P<sl_hook>[A-Za-z0-9/_-]{16,})"
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


class Detector(NamedTuple):
    """One built-in detector's regex and where in a text it can start."""

    regex: str
    #: Searched case-sensitively; the regex is tried at the anchor (or, with ``back="scheme"``,
    #: at the start of the URL scheme before it).
    exact: tuple[str, ...]
    #: Searched in a lower-cased copy; the regex is tried at the start of the key word that
    #: contains the anchor.
    lower: tuple[str, ...]
    #: ``"scheme"``: step back from an exact anchor over the URL scheme; ``""``: start there.
    back: str


# Anchors: where a detector's regex can start. Plain substring search runs at C speed, which is
# what makes logs fast; a regex alternation over all detectors scanned every position (~5 MB/s).
BUILTIN: dict[str, Detector] = {
    "private-key": Detector(_PEM, ("-----BEGIN",), (), ""),
    "aws-key": Detector(_AWS, ("AKIA", "ASIA"), ("aws_secret", "secretaccesskey"), ""),
    "jwt": Detector(_JWT, ("eyJ",), (), ""),
    "github-token": Detector(
        _GITHUB, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), (), ""),
    "gitlab-token": Detector(_GITLAB, ("glpat-",), (), ""),
    "stripe-key": Detector(_STRIPE, ("sk_live_", "sk_test_", "rk_live_", "rk_test_"), (), ""),
    "slack-token": Detector(_SLACK, ("xox", "hooks.slack.com/"), (), ""),
    "url-password": Detector(_URL, ("://",), (), "scheme"),
    "assignment": Detector(
        _ASSIGN, (), ("pass", "pwd", "secret", "token", "credential", "key", "auth"), ""),
}
#: What may precede a lower-case anchor inside its key word (mirrors ``as_key`` in ``_ASSIGN``).
KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
#: What may precede ``://`` in a URL scheme (mirrors the scheme part of ``_URL``).
SCHEME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-")
#: How far back a key word is followed from its anchor; longer keys are not looked for.
MAX_KEY = 128


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
    r"^(?:\$\{.*|\$\(.*|\$[A-Za-z_][A-Za-z0-9_]*|\{\{.*\}\}|%\(.*\)s|<[^<>]*>|\*+|x{3,}|X{3,}|"
    r"(?i:null|none|nil|true|false|undefined|redacted|\[redacted\]))$"
)
_AUTH_SCHEME = re.compile(r"^(?i:bearer|basic|token)[ \t]+")
# ``api token: API_TOKEN=…`` — a bare value that is itself an assignment keeps its inner key.
_NESTED = re.compile(r"^([A-Za-z0-9_.-]+)=(?=[^=\s])")


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


class DetectorHandlers:
    """The built-in detectors' handlers and the custom-regex handler, bound to one placeholder key.

    Handlers are bound methods so the scanner calls them without looking anything up per match.
    """

    def __init__(self, placeholders: Placeholders) -> None:
        self._ph = placeholders
        self._by_name: dict[str, Handler] = {
            "private-key": self._pem,
            "aws-key": self._aws,
            "jwt": self._jwt,
            "github-token": self._token,
            "gitlab-token": self._token,
            "stripe-key": self._stripe,
            "slack-token": self._slack,
            "url-password": self._url,
            "assignment": self._assignment,
        }

    def of(self, name: str) -> Handler:
        """The handler of built-in detector ``name`` (a key of ``BUILTIN``)."""
        return self._by_name[name]

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
        group = "gh_tok" if "gh_tok" in m.re.groupindex else "gl_tok"
        return self._value(m, group)

    def _stripe(self, m: re.Match[str]) -> Edit | None:
        return self._value(m, "st_key")

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
        nested = _NESTED.match(value) if group == "as_bare" else None
        if nested and key_is_sensitive(nested.group(1)):
            start += nested.end()
            value = text[start:end]
        if is_reference(value) or is_placeholder(value):
            return None
        ph = self._ph.of_text(value)
        return Edit(start, end, ph, ph)

    def custom(self, m: re.Match[str]) -> Edit | None:
        """A custom regex's match: its ``value`` group, else group 1, else all of it."""
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
