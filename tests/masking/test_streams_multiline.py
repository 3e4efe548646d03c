"""Log lines that belong together: YAML values below a sensitive key, PGP and PEM keys.

A log arrives in chunks cut anywhere; the masker must mask these blocks wherever the cuts fall,
hold back only lines that may belong to one, and fail closed when a block outgrows its bound
or the idle timer flushes it half-way.
"""

from __future__ import annotations

import pytest

from kgate.proxy.masking import Masker, MaskingSettings

from .conftest import KEY

YAML_BLOCK = "config:\n  password: |\n    s3cretBlockValue\n    secondSecretLine\n  user: bob\n"
YAML_NEXT = "db:\n  api_token:\n    nextLineToken9\n  port: 5432\n"
YAML_ITEMS = "passwords:\n- firstItemSecret\n- secondItemSecret\nother: 1\n"
PGP = ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n"
       "lQOYBF0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH\n"
       "IJKLMNOPQRSTUVWXYZ0123456789abcdefghijkl\n=AbCd\n"
       "-----END PGP PRIVATE KEY BLOCK-----\ndone\n")
SECRETS = {
    YAML_BLOCK: ["s3cretBlockValue", "secondSecretLine"],
    YAML_NEXT: ["nextLineToken9"],
    YAML_ITEMS: ["firstItemSecret", "secondItemSecret"],
    PGP: ["lQOYBF0123456789", "IJKLMNOPQRSTUVWXYZ"],
}
KEPT = {YAML_BLOCK: "  user: bob\n", YAML_NEXT: "  port: 5432\n", YAML_ITEMS: "other: 1\n",
        PGP: "done\n"}


def _run(chunks: list[bytes]) -> str:
    s = Masker(MaskingSettings(), KEY).text_stream()
    return (b"".join(s.feed(c) for c in chunks) + s.close()).decode()


@pytest.mark.parametrize("text", list(SECRETS), ids=["yaml-block", "yaml-next", "yaml-items",
                                                     "pgp"])
def test_masked_wherever_the_stream_is_cut(text: str) -> None:
    raw = text.encode()
    whole = _run([raw])
    assert whole == _run([bytes([b]) for b in raw]), "byte by byte differs from one chunk"
    for cut in range(1, len(raw)):
        out = _run([raw[:cut], raw[cut:]])
        assert out == whole, f"cut at {cut}"
    for secret in SECRETS[text]:
        assert secret not in whole
    assert KEPT[text] in whole
    assert "kgate:masked:" in whole


@pytest.mark.parametrize("text", list(SECRETS), ids=["yaml-block", "yaml-next", "yaml-items",
                                                     "pgp"])
def test_a_stream_that_ends_inside_a_block_prints_no_piece_of_it(text: str) -> None:
    raw = text.encode()
    for cut in range(1, len(raw)):
        out = _run([raw[:cut]])
        for secret in SECRETS[text]:
            for i in range(len(secret) - 5):
                assert secret[i:i + 6] not in out, f"cut at {cut}"


def test_only_lines_that_may_open_a_block_are_held() -> None:
    s = Masker(MaskingSettings(), KEY).text_stream()
    assert s.feed(b"ordinary line\n") == b"ordinary line\n"
    assert s.feed(b"name: web\n") == b"name: web\n"          # not a sensitive key
    assert s.feed(b"  password: |\n") == b""                   # may open a value: held
    assert s.feed(b"    hunter2hunter2\n") == b""
    out = s.feed(b"  next: 1\n").decode()
    assert out.startswith("  password: |\n    kgate:masked:") and out.endswith("  next: 1\n")
    assert s.feed(b"password: inline-on-one-line\n").decode().startswith("password: kgate:")


def test_idle_flush_inside_a_value_masks_the_rest_as_it_arrives() -> None:
    s = Masker(MaskingSettings(), KEY).text_stream()
    assert s.feed(b"password:\n") == b""
    assert s.flush() == b"password:\n"                         # the idle timer
    out = s.feed(b"  lateSecretValue1\n  lateSecretValue2\nafter: 1\n").decode()
    assert "lateSecretValue" not in out
    assert out.count("kgate:masked:") == 2 and out.endswith("after: 1\n")


def test_a_value_beyond_the_bound_is_masked_whole() -> None:
    s = Masker(MaskingSettings(), KEY).text_stream()
    s._block_limit = 256
    lines = [f"    line{i:03d}SecretX\n" for i in range(100)]
    out = s.feed(b"token: |\n") + b"".join(s.feed(line.encode()) for line in lines)
    out += s.feed(b"done: 1\n") + s.close()
    text = out.decode()
    assert "SecretX" not in text
    assert text.startswith("token: |\n") and text.endswith("done: 1\n")


def test_a_long_line_inside_a_value_after_an_early_emit_is_not_passed() -> None:
    s = Masker(MaskingSettings(), KEY).text_stream()
    s._block_limit = 64
    out = s.feed(b"secret: |\n" + b"  abcdefghij0123456789\n" * 4)
    out += s.feed(b"  " + b"Q" * 70_000)                       # longer than a line may be held
    out += s.feed(b"Q" * 10 + b"\nok: 1\n") + s.close()
    assert b"QQQQQQ" not in out and b"abcdefghij" not in out
    assert out.endswith(b"ok: 1\n")
