"""Which key names hold secrets: the one notion of a *sensitive key* used everywhere.

The object walker asks it for every map key, env name and field name; the free-text detectors
ask it for every ``key: value``, ``--flag value``, ``<element>`` and ``name/value`` pair they
find. Regexes only find *candidates*; ``key_is_sensitive`` alone decides, so structured and
free-text masking cannot disagree about ``MYSQL_PWD`` or ``secretName``.

A key is split into words (``DB_PASSWORD`` → db, password; ``clientSecret`` → client, secret;
``x-api-key`` → x, api, key). It is sensitive when a word is a secret word (``password``,
``pwd``, ``secret``, ``token``, ``passphrase``, ``bearer``, ``credentials``…), ends in one
(``PGPASSWORD``, ``mysecret``, ``authtoken``), the last word is ``auth`` (``REDIS_AUTH``,
``basicAuth``), or two adjacent words name a key that is secret (``api key``, ``private key``,
``access key``, ``signing key``…). It is *not* sensitive when:

* the last word says the value names or describes a secret rather than holding it
  (``secretName``, ``secretRef``, ``passwordFile``, ``token_endpoint``, ``key_length``,
  ``passwordPolicy``, ``AWS_ACCESS_KEY_ID`` — key *ids* are public identifiers, the secret half
  is ``…SECRET_ACCESS_KEY``);
* it counts tokens rather than holding one (``max_tokens``, ``num_tokens``, ``token_count``,
  ``prompt_tokens``): language-model settings and usage reports are full of these;
* it is a Kubernetes field whose value is a reference or a flag
  (``imagePullSecrets``, ``automountServiceAccountToken``, ``serviceAccountToken``).

Plural ``secrets`` and ``tokens`` are not sensitive on their own: Kubernetes uses them for lists
of Secret *names* (``ServiceAccount.secrets``, ``Mountable secrets:`` in ``kubectl describe``)
and language models for counts.

``key`` alone is not sensitive (selectors, ``secretKeyRef.key`` and ``keyToPath`` use it for
names); neither are words that merely contain ``key`` or ``token`` (``keyboard``, ``monkey``,
``tokenizer``).
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

#: A word equal to one of these makes a key sensitive.
_SECRET_WORDS = frozenset({
    "password", "passwords", "passwd", "pass", "pwd", "pw", "passphrase", "passcode",
    "secret", "token", "credential", "credentials", "creds",
    "apikey", "accesskey", "privatekey", "secretkey", "authorization", "bearer",
    "signature", "sig", "requirepass", "masterauth", "authtoken",
})
#: A word ending in one of these does too (``PGPASSWORD``, ``mysecret``, ``ghtoken``).
_SECRET_SUFFIXES = ("password", "passwd", "passphrase", "pwd", "secret", "token",
                    "credential", "credentials", "apikey", "accesskey", "privatekey",
                    "secretkey")
#: Adjacent word pairs that name a secret key.
_SECRET_PAIRS = frozenset({
    ("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"),
    ("auth", "key"), ("signing", "key"), ("encryption", "key"), ("master", "key"),
    ("session", "key"), ("account", "key"), ("client", "key"), ("shared", "key"),
    ("app", "key"), ("license", "key"), ("ssh", "key"), ("tls", "key"), ("deploy", "key"),
    ("storage", "key"), ("subscription", "key"), ("admin", "key"), ("server", "key"),
    ("hmac", "key"), ("root", "key"), ("write", "key"), ("encrypt", "key"),
    ("decryption", "key"), ("gpg", "key"), ("pgp", "key"), ("rsa", "key"),
})
#: A last word that makes the key name, locate or describe a secret instead of holding it.
_DESCRIBES = frozenset({
    "file", "files", "path", "dir", "ref", "refs", "reference", "name", "names", "length",
    "len", "policy", "policies", "type", "mode", "count", "ttl", "expiry", "expires",
    "expiration", "enabled", "disabled", "required", "url", "uri", "endpoint", "endpoints",
    "id", "ids", "kind", "format", "field", "fields", "source", "namespace", "version", "env",
    "config", "header", "prefix", "hint", "strength", "min", "max", "age", "rotation",
    "template", "size", "bits", "algorithm", "algo", "alg", "store", "provider", "selector",
    "label", "labels", "mount", "volume", "regex", "pattern", "limit", "limits", "timeout",
    "interval", "duration", "lifetime", "method", "methods", "scope", "scopes", "issuer",
    "audience", "usage", "used", "remaining", "quota", "budget", "encoding", "arn",
    "location", "description", "placeholder", "prompt", "reset", "changed", "complexity",
    "validation", "generator", "manager", "backend", "total", "num", "number",
})
#: With a token word these make the key a count (``max_tokens``, ``token_count``…).
_COUNT_WORDS = frozenset({
    "max", "min", "num", "number", "count", "total", "limit", "budget", "used", "usage",
    "remaining", "per", "rate", "size", "length", "len",
})
#: Plural ``tokens`` with these is an LLM usage figure (``prompt_tokens``, ``output_tokens``).
_USAGE_WORDS = frozenset({"prompt", "completion", "input", "output", "cached", "reasoning",
                          "context", "response", "request"})
#: Kubernetes fields whose value is a reference or a flag, never secret material.
_STRUCTURAL = frozenset({
    "imagepullsecrets", "automountserviceaccounttoken", "serviceaccounttoken",
    "tokenrequests", "requiresrepublish", "secretkeyref",
})


@lru_cache(maxsize=4096)
def key_is_sensitive(key: str) -> bool:
    """``API_TOKEN``, ``db.password``, ``clientSecret`` yes; ``tokenizer``, ``secretName`` no.

    Pure and cached: the walker calls it for every map key of every object.
    """
    words = [w.lower() for w in _WORDS.findall(key)]
    if not words or words[-1] in _DESCRIBES:
        return False
    if "".join(words) in _STRUCTURAL:
        return False
    if _counts_tokens(words):
        return False
    if words[-1] == "auth":
        return True
    for w in words:
        if w in _SECRET_WORDS or w.endswith(_SECRET_SUFFIXES):
            return True
    return any(pair in _SECRET_PAIRS for pair in zip(words, words[1:], strict=False))


def _counts_tokens(words: list[str]) -> bool:
    tokens = [w for w in words if w in ("token", "tokens")]
    if not tokens:
        return False
    others = set(words) - {"token", "tokens"}
    if others & _COUNT_WORDS:
        return True
    return "tokens" in tokens and bool(others & _USAGE_WORDS)


def counts_tokens(key: str) -> bool:
    """``token``-family keys whose all-digit values are numbers, not secrets (``tokens: 2048``)."""
    words = [w.lower() for w in _WORDS.findall(key)]
    return any(w.endswith(("token", "tokens")) for w in words)


_REFERENCE = re.compile(
    r"^(?:\$\{.*|\$\(.*|\$[A-Za-z_][A-Za-z0-9_]*|\{\{.*\}\}|%\(.*\)s|<[^<>]*>|\*+|x{3,}|X{3,}|"
    r"(?i:null|none|nil|~|true|false|yes|no|undefined|redacted|\[redacted\]))$"
)


def is_reference(value: str) -> bool:
    """An empty value, ``${VAR}``, ``$(VAR)``, ``{{ .x }}``, ``***``, ``null``… is not a secret."""
    v = value.strip()
    return not v or _REFERENCE.match(v) is not None


_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|x([0-9A-Fa-f]{2}))")


def decode_key(key: str) -> str:
    """``pass\\u0077ord`` → ``password``: JSON and YAML escapes undone before a key is judged."""
    if "\\" not in key:
        return key
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), key)
