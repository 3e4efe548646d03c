"""Free-text detectors: each with true positives (value gone, key kept) and false positives."""

from __future__ import annotations

import base64
import json

import pytest

from kgate.proxy.masking import PLACEHOLDER_RE, MaskingSettings
from kgate.proxy.masking.detectors import TextScanner, key_is_sensitive
from kgate.proxy.masking.placeholders import Placeholders

from .conftest import KEY


def scanner(**kw: object) -> TextScanner:
    return TextScanner(MaskingSettings(**kw), Placeholders(KEY))  # type: ignore[arg-type]


SCAN = scanner()


def mask(text: str) -> str:
    return SCAN.mask(text)[0]


def _jwt(header: dict[str, object], payload: dict[str, object]) -> str:
    def seg(d: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return f"{seg(header)}.{seg(payload)}.c2lnbmF0dXJlLWJ5dGVzLWhlcmU"


JWT = _jwt({"alg": "RS256", "typ": "JWT"}, {"sub": "system:serviceaccount:dev:x"})
RSA_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n"
    "aFDrBz9vFqU4yC1cbR1EzaYbS5sMqXIBtEAKDVK7JOnAbn0PLV7l3uW3aU5xs5Kw\n"
    "3WwlSg==\n"
    "-----END RSA PRIVATE KEY-----"
)

# (text, the secret that must disappear, text that must remain)
TRUE_POSITIVES = [
    # private keys, all flavours, terminated or not
    (RSA_KEY, "MIIEowIBAAKCAQEA0Z3VS5JJcds3", "-----BEGIN RSA PRIVATE KEY-----"),
    (RSA_KEY.replace("RSA", "EC"), "3WwlSg==", "-----END EC PRIVATE KEY-----"),
    (RSA_KEY.replace("RSA ", ""), "aFDrBz9vFqU4", "-----BEGIN PRIVATE KEY-----"),
    (RSA_KEY.replace("RSA", "OPENSSH"), "aFDrBz9vFqU4", "OPENSSH PRIVATE KEY"),
    (RSA_KEY.replace("RSA", "ENCRYPTED").replace(
        "\nMIIE", "\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,AB12\n\nMIIE"),
     "aFDrBz9vFqU4", "ENCRYPTED PRIVATE KEY"),
    ("key: " + RSA_KEY.split("-----END")[0], "aFDrBz9vFqU4", "-----BEGIN RSA"),  # truncated
    ('{"k": "' + RSA_KEY.replace("\n", "\\n") + '"}', "aFDrBz9vFqU4", "\\n-----END RSA"),
    # AWS
    ("id AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE", "id "),
    ("ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A", ""),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = "),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI", "AWS_SECRET_ACCESS_KEY="),
    # JWT
    (f"Authorization: Bearer {JWT}", JWT.split(".")[1], "Authorization: Bearer "),
    (f"token {JWT} end", JWT.split(".")[2], " end"),
    # GitHub / GitLab / Slack
    ("ghp_" + "A1b2" * 9, "A1b2A1b2A1b2", ""),
    ("gho_" + "z" * 36 + " x", "zzzzzzzzzzzz", " x"),
    ("ghs_" + "9" * 36, "999999999999", ""),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "11ABCDEFG0123456789", ""),
    ("glpat-xxxxXXXXyyyyYYYY1234", "xxxxXXXXyyyyYYYY1234", ""),
    ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "AbCdEfGhIjKl", ""),
    ("hook https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
     "XXXXXXXXXXXXXXXXXXXXXXXX", "https://hooks.slack.com/services/"),
    # passwords in URLs keep scheme, user and host
    ("postgres://app:s3cr3t@db:5432/shop", "s3cr3t", "postgres://app:"),
    ("url=https://bob:p%40ss@example.com/x", "p%40ss", "@example.com/x"),
    ("amqp://guest:guest@rabbit", ":guest@", "amqp://guest:"),
    # assignments keep the key
    ("password=hunter2", "hunter2", "password="),
    ("API_TOKEN=abc123def", "abc123def", "API_TOKEN="),
    ("secret: topsecretvalue", "topsecretvalue", "secret: "),
    ('{"password": "s3cret!", "user": "bob"}', "s3cret!", '"user": "bob"'),
    ('log {\\"password\\":\\"esc4ped\\"}', "esc4ped", '\\"password\\":'),
    ("db.password = 'quoted value'", "quoted value", "db.password = '"),
    ("clientSecret: abcdef", "abcdef", "clientSecret: "),
    ("  password: two words", "two words", "  password: "),
    ("curl -H 'Authorization: Basic dXNlcjpwYXNz'", "dXNlcjpwYXNz", "Authorization: Basic "),
    ("?access_token=zzz111&x=1", "zzz111", "&x=1"),
    ("AccountKey=abcDEF123==;EndpointSuffix=core", "abcDEF123==", "AccountKey="),
    ("MYSQL_ROOT_PASSWORD=rootpw", "rootpw", "MYSQL_ROOT_PASSWORD="),
    ("upstream api token: API_TOKEN=tok_9fK2mQ7v", "tok_9fK2mQ7v", "token: API_TOKEN="),
    ("token: tokenValueWithPad==", "tokenValueWithPad", "token: "),
    ("secret: user=bob", "user=bob", "secret: "),
    # Stripe secret/restricted keys (publishable pk_ keys are public)
    ("stripe key sk_live_51SandboxFakeKey0000aaaa", "51SandboxFakeKey0000aaaa", "stripe key "),
    ("rk_test_abcdefghijklmnop1234", "abcdefghijklmnop1234", ""),
]


@pytest.mark.parametrize(("text", "secret", "kept"), TRUE_POSITIVES)
def test_true_positives(text: str, secret: str, kept: str) -> None:
    out, n = SCAN.mask(text)
    assert n >= 1
    assert secret not in out
    assert kept in out
    assert PLACEHOLDER_RE.search(out)


FALSE_POSITIVES = [
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",           # git SHA
    "uid 123e4567-e89b-12d3-a456-426614174000",                 # UUID
    'password: ""',
    "password=",
    "password=${DB_PASSWORD}",
    "password=$(cat /run/secret)",
    "password: {{ .Values.db.password }}",
    "password=$DB_PASSWORD",
    "password: null",
    "password: <redacted>",
    "password: ****",
    "tokenizer=bert",
    "keyboard=us",
    "secretName: db-creds",
    "tokenSecretRef: x",
    "passwordFile=/run/secrets/db",
    "key: app.kubernetes.io/name",
    "monkey=banana",
    "https://example.com/path?q=1",
    "http://host:8080/x@y",
    "git@github.com:org/repo.git",
    "https://user@example.com/",
    "postgres://app:${DB_PASSWORD}@db/shop",
    "xAKIAIOSFODNN7EXAMPLE",
    "AKIAIOSFODNN7EXAMPLEX",
    "eyJhIjoxfQ.eyJiIjoyfQ.c2ln",                                # base64 JSON, no alg
    "abc.def.ghi",
    "ghp_short",
    "glpat-short",
    "xoxb-",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "the token was rotated",
    "auth ok",
    "Authorization: Bearer ${TOKEN}",
    "pk_live_51PublishableKey0000aaaa1111",
    "task_live_abcdefghijklmnop1234",
    "sk_live_short",
]


@pytest.mark.parametrize("text", FALSE_POSITIVES)
def test_false_positives(text: str) -> None:
    assert SCAN.mask(text) == (text, 0)


def test_equal_values_equal_placeholders() -> None:
    out = mask("password=abc other_password=abc api_token=xyz")
    phs = PLACEHOLDER_RE.findall(out)
    assert len(phs) == 3 and phs[0] == phs[1] != phs[2]


@pytest.mark.parametrize("text", [t for t, _s, _k in TRUE_POSITIVES])
def test_idempotent(text: str) -> None:
    once = mask(text)
    assert SCAN.mask(once) == (once, 0)


def test_pem_keeps_markers_and_line_structure() -> None:
    out = mask("before\n" + RSA_KEY + "\nafter")
    lines = out.split("\n")
    assert lines[0] == "before" and lines[-1] == "after"
    assert lines[1] == "-----BEGIN RSA PRIVATE KEY-----"
    assert PLACEHOLDER_RE.fullmatch(lines[2])
    assert lines[3] == "-----END RSA PRIVATE KEY-----"


def test_detectors_can_be_disabled() -> None:
    only_jwt = scanner(detectors=("jwt",))
    assert only_jwt.mask("password=hunter2") == ("password=hunter2", 0)
    assert only_jwt.mask(JWT)[1] == 1
    none = scanner(detectors=())
    assert none.mask(RSA_KEY) == (RSA_KEY, 0)


def test_custom_regex_whole_match_and_value_group() -> None:
    s = scanner(detectors=(), custom=(
        ("internal", r"tok_[A-Za-z0-9]{32}"),
        ("pin", r"pin=(?P<value>\d{4,})"),
    ))
    out, n = s.mask("a tok_" + "x" * 32 + " b pin=123456 c")
    assert n == 2
    assert "x" * 32 not in out and "123456" not in out
    assert "pin=kgate:masked:" in out
    assert s.mask(out) == (out, 0)


def test_custom_regex_that_matches_placeholder_hex_is_idempotent() -> None:
    s = scanner(detectors=("assignment",), custom=(("hex", r"[0-9a-f]{8}"),))
    once = s.mask("password=hunter2 id deadbeef")[0]
    assert "deadbeef" not in once
    assert s.mask(once) == (once, 0)


def test_window_masks_remainder_of_a_secret_started_before() -> None:
    # A streaming caller emitted "password=hun" already; the rest must not leak.
    text = "password=hunter2 ok"
    out, n = SCAN.mask(text, lo=12)
    assert n == 1 and "ter2" not in out and out.endswith(" ok")


@pytest.mark.parametrize(("key", "sensitive"), [
    ("password", True), ("DB_PASSWORD", True), ("apiKey", True), ("api_key", True),
    ("clientSecret", True), ("AUTH", True), ("basicAuth", True), ("SECRET_KEY_BASE", True),
    ("tokenizer", False), ("secretName", False), ("key", False), ("passwordFile", False),
    ("author", False), ("keyring", False), ("tokenTTL", False),
])
def test_key_words(key: str, sensitive: bool) -> None:
    assert key_is_sensitive(key) is sensitive
