"""The detector catalogue: what each built-in detector looks for and how a match becomes an edit.

Each detector is one or more regexes, the *anchors* (keywords) where a match can begin, and a
handler that decides whether the match is really a secret and which span to replace.
``TextScanner`` (``detectors``) owns the machinery that finds anchors and runs these regexes;
keeping the catalogue apart lets a reader add or tune a detector without touching the scanning
and merging code. Which *keys* hold secrets is decided in ``keys``; the values after a key, in
all their syntaxes, are found by ``keyed``.

Token shapes were written for kgate after reading the public rule sets of gitleaks and
detect-secrets (prefixes, lengths, alphabets); no rule text was copied. Every token regex is
bounded on both sides so that a longer word containing a prefix (``task-``, ``msg.``) is not a
token, and every handler keeps the key or the shape around a secret
(``API_TOKEN=kgate:masked:…``, ``scheme://user:kgate:masked:…@host``) and leaves an existing
placeholder alone, so masking masked text changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import NamedTuple

import orjson

from .edit import Edit
from .keyed import KEY_REGEX, KeyedValues
from .keys import is_reference, key_is_sensitive
from .placeholders import Placeholders, is_placeholder

__all__ = ["BUILTIN", "Detector", "DetectorHandlers", "Edit", "Handler", "is_reference",
           "key_is_sensitive"]

#: Turns one regex match into edits (one, several, or None when it is not a secret after all).
Handler = Callable[[re.Match[str]], "Edit | list[Edit] | None"]


# --- token shapes ------------------------------------------------------------------------------

_PEM = (
    r"-----BEGIN (?P<pem_label>(?:[A-Z0-9]+ )*)(?P<pem_kind>PRIVATE|SECRET) KEY"
    r"(?P<pem_block>(?: BLOCK)?)-----(?P<pem_body>(?s:.*?))"
    r"(?:(?P<pem_end>-----END (?P=pem_label)(?P=pem_kind) KEY(?P=pem_block)-----)|\Z)"
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
    r"(?<![A-Za-z0-9_])(?P<tok>gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"
    r"(?![A-Za-z0-9_])"
)
#: Personal, deploy, runner, pipeline-trigger, CI job, feed, incoming-mail, agent, OAuth app,
#: feature-flag, service-account and workspace tokens, and runner registration tokens.
_GITLAB_PREFIXES = ("glpat-", "gldt-", "glrt-", "glrtr-", "glptt-", "glcbt-", "glft-", "glimt-",
                    "glagent-", "gloas-", "glffct-", "glsoat-", "glwt-")
_GITLAB = (
    r"(?<![A-Za-z0-9_-])(?P<tok>(?:" + "|".join(p[:-1] for p in _GITLAB_PREFIXES) + r")"
    r"-[A-Za-z0-9_.-]{20,}|GR1348941[A-Za-z0-9_-]{20,})(?![A-Za-z0-9_-])"
)
# Stripe secret and restricted keys (``pk_`` publishable keys are public by design).
_STRIPE = r"(?<![A-Za-z0-9_])(?P<tok>[sr]k_(?:live|test)_[A-Za-z0-9]{16,})(?![A-Za-z0-9_])"
_SLACK = (
    r"(?<![A-Za-z0-9])(?P<tok>xox[abprse]-[A-Za-z0-9-]{10,}|xapp-[0-9]+-[A-Za-z0-9-]{10,})"
    r"(?![A-Za-z0-9-])"
    r"|(?<=https://)hooks\.slack\.com/(?:services|workflows)/(?P<sl_hook>[A-Za-z0-9/_-]{16,})"
)
#: Other services' tokens with a distinctive prefix: (exact anchor, what follows it).
_VENDOR_SHAPES = (
    ("npm_", r"[A-Za-z0-9]{36}"),                          # npm
    ("pypi-AgEIcHlwaS5vcmc", r"[A-Za-z0-9_-]{50,}"),       # PyPI upload token (macaroon)
    ("sk-", r"(?:ant-[a-z]+[0-9]{2}-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}"),  # OpenAI…
    ("AIza", r"[0-9A-Za-z_-]{35}"),                        # Google API key
    ("hf_", r"[A-Za-z]{34}"),                              # Hugging Face
    ("SG.", r"[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),      # SendGrid
    ("dop_v1_", r"[a-f0-9]{64}"), ("doo_v1_", r"[a-f0-9]{64}"), ("dor_v1_", r"[a-f0-9]{64}"),
    ("shpat_", r"[a-fA-F0-9]{32}"), ("shpca_", r"[a-fA-F0-9]{32}"),   # Shopify
    ("shppa_", r"[a-fA-F0-9]{32}"), ("shpss_", r"[a-fA-F0-9]{32}"),
    ("AGE-SECRET-KEY-1", r"[0-9A-Z]{58}"),                 # age identity
    ("hvs.", r"[A-Za-z0-9_-]{24,}"), ("hvb.", r"[A-Za-z0-9_-]{24,}"),  # HashiCorp Vault
    ("dckr_pat_", r"[A-Za-z0-9_-]{27,}"),                  # Docker Hub
    ("glsa_", r"[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),          # Grafana service account
    ("sntrys_", r"[A-Za-z0-9+/=_-]{40,}"), ("sntryu_", r"[A-Za-z0-9]{40,}"),  # Sentry
    ("lin_api_", r"[A-Za-z0-9]{40}"),                      # Linear
    ("PMAK-", r"[a-f0-9]{24}-[a-f0-9]{34}"),               # Postman
    ("pul-", r"[a-f0-9]{40}"),                             # Pulumi
    ("dapi", r"[a-f0-9]{32}(?:-[0-9]+)?"),                 # Databricks
    ("ATATT3", r"[A-Za-z0-9_=-]{100,}"),                   # Atlassian
)
_VENDOR = (
    r"(?<![A-Za-z0-9_.-])(?P<tok>"
    + "|".join(re.escape(a) + rest for a, rest in _VENDOR_SHAPES)
    + r")(?![A-Za-z0-9_-])"
)
# A user part may be empty (``redis://:pw@host``); the password runs to the last ``@``. Both
# are bounded: a long line of ``://:`` must not cost a scan to its end per anchor.
_URL = (
    r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s:/?#@\"'<>]{0,256}:"
    r"(?P<url_pw>[^\s/?#\"'<>]{1,256})@"
)
_VAL = r"(?:'(?P<{0}_sq>[^'\n]*)'|\"(?P<{0}_dq>[^\"\n]*)\"|(?P<{0}_v>[^\s'\"]+))"
_GAP = r"(?:[^\n|;&]|\\\r?\n){0,400}?"
_COMMAND = (
    # curl -u user:pw / --user 'user:pw' (a user without ``:`` makes curl prompt: nothing to do)
    r"curl\b" + _GAP + r"[ \t](?:-u|--user)(?:[ \t]+|=)"
    r"(?:(?P<cu_q>['\"])[^:'\"\n]*:(?P<cu_qpw>[^'\"\n]+)(?P=cu_q)|[^\s:'\"]*:(?P<cu_pw>[^\s'\"]+))"
    # mysql -pSECRET (attached only: ``-p db`` prompts and names a database)
    r"|(?:mysql|mariadb)[A-Za-z_-]*\b" + _GAP
    + r"[ \t]-p(?:'(?P<my_sq>[^'\n]*)'|\"(?P<my_dq>[^\"\n]*)\"|(?P<my_v>[^\s'\"-][^\s'\"]*))"
    r"|sshpass\b" + _GAP + r"[ \t]-p[ \t]*" + _VAL.format("sp")
    + r"|redis-cli\b" + _GAP + r"[ \t]-a[ \t]+" + _VAL.format("rc")
    + r"|(?:docker|podman|nerdctl|buildah|skopeo|oras|helm(?:[ \t]+registry)?)[ \t]+login\b"
    + _GAP + r"[ \t]-p[ \t]+" + _VAL.format("dl")
)
# Unquoted ``IDENTIFIED BY tiger`` only in upper case: "messages identified by UID" is prose.
_SQL = (
    r"(?i:identified)(?:[ \t]+(?i:with)[ \t]+[^\s]+)?[ \t]+(?i:by)[ \t]+(?:(?i:password)[ \t]+)?"
    r"(?:'(?P<sq_sq>(?:[^'\n]|'')*)'|\"(?P<sq_dq>[^\"\n]*)\"|(?<=BY )(?P<sq_v>[^\s;'\",]+))"
    r"|(?i:password)[ \t]+(?i:for)[ \t]+[^\n=]{1,200}?=[ \t]*(?:(?i:password)[ \t]*\([ \t]*)?"
    r"(?:'(?P<sf_sq>(?:[^'\n]|'')*)'|\"(?P<sf_dq>[^\"\n]*)\")"
)
_VALUE_GROUPS = {
    "command-line": ("cu_qpw", "cu_pw", "my_sq", "my_dq", "my_v", "sp_sq", "sp_dq", "sp_v",
                     "rc_sq", "rc_dq", "rc_v", "dl_sq", "dl_dq", "dl_v"),
    "sql-password": ("sq_sq", "sq_dq", "sq_v", "sf_sq", "sf_dq"),
}


def _b64_anchors(marker: bytes) -> tuple[str, ...]:
    """The base64 of ``marker`` at each of the three alignments, only the characters that
    depend on ``marker`` alone (whatever bytes surround it)."""
    out = []
    for shift in range(3):
        variants = [base64.b64encode(pad * shift + marker + tail).decode()
                    for pad in (b"\0", b"\xff") for tail in (b"\0", b"\xff")]
        common = [len({v[i] for v in variants}) == 1 for i in range(len(variants[0]))]
        lo = next(i for i, same in enumerate(common) if same and i >= (shift * 4 + 2) // 3)
        hi = lo
        while hi < len(common) and common[hi]:
            hi += 1
        out.append(variants[0][lo:hi])
    return tuple(out)


#: ``-----BEGIN`` in base64 at every alignment (a PEM key inside a base64 blob).
B64_BEGIN = _b64_anchors(b"-----BEGIN")
_B64_RUN = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64_NEXT = re.compile(r"(?:\r?\n|\\n)[ \t]*[A-Za-z0-9+/]{4,}={0,2}(?=[ \t]*(?:\r?\n|\\n|$|[\"']))")
_B64_DECODE_LIMIT = 1 << 20


class Detector(NamedTuple):
    """One built-in detector regex and where in a text it can start."""

    regex: str
    #: Searched case-sensitively; the regex is tried at the anchor (or, with ``back="scheme"``,
    #: at the start of the URL scheme before it).
    exact: tuple[str, ...]
    #: Searched in a lower-cased copy; the regex is tried at the start of the key word that
    #: contains the anchor.
    lower: tuple[str, ...]
    #: ``"scheme"``: step back from an exact anchor over the URL scheme; ``""``: start there.
    back: str
    #: The ``DetectorHandlers`` method that turns a match into edits.
    handler: str


# Anchors: where a detector's regex can start. Plain substring search runs at C speed, which is
# what makes logs fast; a regex alternation over all detectors scanned every position (~5 MB/s).
BUILTIN: dict[str, tuple[Detector, ...]] = {
    "private-key": (Detector(_PEM, ("-----BEGIN",), (), "", "_pem"),
                    Detector(r"[A-Za-z0-9+/]", B64_BEGIN, (), "", "_b64_pem")),
    "aws-key": (Detector(_AWS, ("AKIA", "ASIA"), ("aws_secret", "secretaccesskey"), "", "_aws"),),
    "jwt": (Detector(_JWT, ("eyJ",), (), "", "_jwt"),),
    "github-token": (Detector(_GITHUB, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
                              (), "", "_token"),),
    "gitlab-token": (Detector(_GITLAB, (*_GITLAB_PREFIXES, "GR1348941"), (), "", "_token"),),
    "stripe-key": (Detector(_STRIPE, ("sk_live_", "sk_test_", "rk_live_", "rk_test_"), (), "",
                            "_token"),),
    "slack-token": (Detector(_SLACK, ("xox", "xapp-", "hooks.slack.com/"), (), "", "_slack"),),
    "vendor-token": (Detector(_VENDOR, tuple(a for a, _ in _VENDOR_SHAPES), (), "", "_vendor"),),
    "url-password": (Detector(_URL, ("://",), (), "scheme", "_url"),),
    "assignment": (Detector(
        KEY_REGEX, (), ("pass", "pw", "secret", "token", "cred", "key", "auth", "bearer", "sig",
                        "\\u00"), "", "_assignment"),),
    "command-line": (Detector(
        _COMMAND, (), ("curl", "mysql", "mariadb", "sshpass", "redis-cli", "docker", "podman",
                       "nerdctl", "buildah", "skopeo", "oras", "helm"), "", "_command"),),
    "sql-password": (Detector(_SQL, (), ("identified", "pass"), "", "_sql"),),
}
#: What may precede a lower-case anchor inside its key word (mirrors ``KEY_REGEX``).
KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
#: What may precede ``://`` in a URL scheme (mirrors the scheme part of ``_URL``).
SCHEME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-")
#: How far back a key word is followed from its anchor; longer keys are not looked for.
MAX_KEY = 128


def _b64url_json(segment: str) -> object:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return orjson.loads(raw)
    except (binascii.Error, ValueError):
        return None


def _random_looking(token: str) -> bool:
    """Upper case, lower case and digits all present: how generated keys look (``sk-learn-…``
    and ``hf_`` words in code are not)."""
    return (any(c.isupper() for c in token) and any(c.islower() for c in token)
            and any(c.isdigit() for c in token))


class DetectorHandlers:
    """The built-in detectors' handlers and the custom-regex handler, bound to one placeholder key.

    Handlers are bound methods so the scanner calls them without looking anything up per match.
    """

    def __init__(self, placeholders: Placeholders) -> None:
        self._ph = placeholders
        self._keyed = KeyedValues(placeholders)
        self._b64_last: tuple[str | None, int, int] = (None, 0, 0)

    def begin(self) -> None:
        """Called by the scanner before each text: per-text memory must not outlive it (the
        same string object may be scanned again, e.g. window by window)."""
        self._b64_last = (None, 0, 0)
        self._keyed.begin()

    def of(self, detector: Detector) -> Handler:
        """The handler of one built-in detector regex."""
        handler: Handler = getattr(self, detector.handler)
        return handler

    def _value(self, m: re.Match[str], group: str | int) -> Edit | None:
        value = m.group(group)
        if value is None or is_placeholder(value):
            return None
        ph = self._ph.of_text(value)
        return Edit(m.start(group), m.end(group), ph, ph)

    def _first_of(self, m: re.Match[str], groups: tuple[str, ...]) -> Edit | None:
        for g in groups:
            value = m.group(g)
            if value is not None:
                return None if is_reference(value) else self._value(m, g)
        return None

    def _pem(self, m: re.Match[str]) -> Edit | None:
        body = m.group("pem_body")
        core = body.strip()
        if not core or is_placeholder(core):
            return None
        ph = self._ph.of_text(core)
        if "\r\n" in body:
            sep = "\r\n"
        elif "\n" in body:
            sep = "\n"
        elif "\\n" in body:
            sep = "\\n"
        else:
            sep = ""
        begin = m.string[m.start():m.start("pem_body")]
        end = m.group("pem_end")
        if end is not None:
            repl = f"{begin}{sep}{ph}{sep}{end}"
        else:
            tail = sep if sep and body.endswith(sep) else ""
            repl = f"{begin}{sep}{ph}{tail}"
        return Edit(m.start(), m.end(), repl, ph)

    def _b64_pem(self, m: re.Match[str]) -> Edit | None:
        """A base64 blob whose decoded bytes hold a PEM private key: the whole blob goes.

        One blob is examined once per text, however many ``-----BEGIN`` it holds."""
        text = m.string
        last_text, last_start, last_end = self._b64_last
        if last_text is text and last_start <= m.start() < last_end:
            return None
        start = m.start()
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "+/") \
                and text[start - 1].isascii():
            start -= 1
        run = _B64_RUN.match(text, m.start())
        end = run.end() if run else m.end()
        while (nxt := _B64_NEXT.match(text, end)) is not None:
            end = nxt.end()
        self._b64_last = (text, start, end)
        blob = re.sub(r"\s|\\n", "", text[start:min(end, start + _B64_DECODE_LIMIT)])
        blob = blob[:len(blob) - len(blob) % 4]
        try:
            raw = binascii.a2b_base64(blob)
        except (binascii.Error, ValueError):
            return None
        if b"PRIVATE KEY" not in raw and b"SECRET KEY BLOCK" not in raw:
            return None   # a certificate or public key: public by design
        ph = self._ph.of_text(text[start:end])
        return Edit(start, end, ph, ph)

    def _aws(self, m: re.Match[str]) -> Edit | None:
        return self._value(m, "aws_id" if m.group("aws_id") is not None else "aws_sk")

    def _jwt(self, m: re.Match[str]) -> Edit | None:
        token = m.group("jwt_tok")
        header = _b64url_json(token.split(".", 1)[0])
        if not isinstance(header, dict) or "alg" not in header:
            return None
        return self._value(m, "jwt_tok")

    def _token(self, m: re.Match[str]) -> Edit | None:
        return self._value(m, "tok")

    def _vendor(self, m: re.Match[str]) -> Edit | None:
        token = m.group("tok")
        if token.startswith(("sk-", "hf_")) and not token.startswith("sk-ant-") \
                and not _random_looking(token):
            return None
        return self._value(m, "tok")

    def _slack(self, m: re.Match[str]) -> Edit | None:
        return self._value(m, "tok" if m.group("tok") is not None else "sl_hook")

    def _url(self, m: re.Match[str]) -> Edit | None:
        if is_reference(m.group("url_pw")):
            return None
        return self._value(m, "url_pw")

    def _assignment(self, m: re.Match[str]) -> Edit | list[Edit] | None:
        return self._keyed.assignment(m)

    def _command(self, m: re.Match[str]) -> Edit | None:
        return self._first_of(m, _VALUE_GROUPS["command-line"])

    def _sql(self, m: re.Match[str]) -> Edit | None:
        return self._first_of(m, _VALUE_GROUPS["sql-password"])

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
