"""Streaming: logs, watch NDJSON and exec frames give the same output however they are chunked,
hold back only what they must, and stay bounded."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kgate.proxy.masking import PLACEHOLDER_RE, Masker, MaskingError, MaskingSettings
from kgate.proxy.masking.streams import LineMasker

from .conftest import KEY, b64, secret
from .test_detectors import JWT, RSA_KEY

LOG = (
    "2026-01-12T09:14:03Z starting\n"
    "export API_TOKEN=ghp_" + "Q" * 36 + "\n"
    "connecting to postgres://app:dbpw42@db:5432/shop\n"
    + RSA_KEY + "\n"
    "level=info msg=ok tokenizer=bert\n"
    "2026-01-12T09:14:04Z -----BEGIN EC PRIVATE KEY-----\n"
    "2026-01-12T09:14:04Z MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5\n"
    "2026-01-12T09:14:04Z -----END EC PRIVATE KEY-----\n"
    "auth header Bearer " + JWT + "\n"
    "no newline at the end password=tail9"
).encode()
SECRETS = ["QQQQQQQQQQQQ", "dbpw42", "MIIEowIBAAKCAQEA0Z3VS5JJ", "aFDrBz9vFqU4", "3WwlSg==",
           "MHcCAQEEIBkg4LVWM9", JWT.split(".")[1], "tail9"]


def chunked(data: bytes, sizes: Callable[[], int]) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        n = max(1, sizes())
        out.append(data[i:i + n])
        i += n
    return out


def run_text(masker: Masker, chunks: list[bytes]) -> bytes:
    s = masker.text_stream()
    return b"".join(s.feed(c) for c in chunks) + s.close()


def test_log_whole(masker: Masker) -> None:
    out = run_text(masker, [LOG]).decode()
    for secret_part in SECRETS:
        assert secret_part not in out
    assert "tokenizer=bert" in out
    assert "-----BEGIN RSA PRIVATE KEY-----\nkgate:masked:" in out
    assert out.count("\n") <= LOG.count(b"\n")


@pytest.mark.parametrize("seed", range(12))
def test_log_any_chunking_gives_the_same_output(masker: Masker, seed: int) -> None:
    whole = run_text(masker, [LOG])
    rng = random.Random(seed)
    assert run_text(masker, chunked(LOG, lambda: rng.randint(1, 40))) == whole


def test_log_byte_by_byte(masker: Masker) -> None:
    assert run_text(masker, chunked(LOG, lambda: 1)) == run_text(masker, [LOG])


def test_log_emits_complete_lines_promptly(masker: Masker) -> None:
    s = masker.text_stream()
    assert s.feed(b"hello\nwor") == b"hello\n"
    assert s.feed(b"ld\n") == b"world\n"
    assert s.close() == b""


def test_pem_held_until_end_line(masker: Masker) -> None:
    s = masker.text_stream()
    lines = (RSA_KEY + "\nnext\n").encode().splitlines(keepends=True)
    outs = [s.feed(line) for line in lines]
    assert outs[:-2] == [b""] * (len(lines) - 2)   # the block is held …
    assert outs[-2].startswith(b"-----BEGIN RSA PRIVATE KEY-----\nkgate:masked:")  # … until END
    assert outs[-1] == b"next\n"


def test_unterminated_pem_ends_at_a_non_key_line(masker: Masker) -> None:
    text = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
            "Traceback (most recent call last):\n")
    out = run_text(masker, [text.encode()]).decode()
    assert "MIIEvQIBADANBgkq" not in out and out.endswith("Traceback (most recent call last):\n")


def test_non_utf8_bytes_pass_unchanged(masker: Masker) -> None:
    data = b"\xff\xfe binary \xc3\n password=x\xff1\n"
    out = run_text(masker, chunked(data, lambda: 3))
    assert out.startswith(b"\xff\xfe binary \xc3\n") and b"x\xff1" not in out


def test_detectors_off_passes_everything() -> None:
    m = Masker(MaskingSettings(detectors=()), KEY)
    assert run_text(m, chunked(LOG, lambda: 7)) == LOG


def test_masked_count(masker: Masker) -> None:
    s = masker.text_stream()
    s.feed(b"password=a\ntoken=b\n")
    assert s.masked == 2


# -- bounds ----------------------------------------------------------------------------------

def test_long_line_is_emitted_in_bounded_pieces_without_leaking(masker: Masker) -> None:
    s = LineMasker(masker._scanner, line_limit=1000, overlap=100)
    secret_value = "S3CR3T" * 20
    line = ("x" * 995 + " password=" + secret_value + " " + "y" * 3000 + "\n").encode()
    outs, held = [], []
    for c in chunked(line, lambda: 50):
        outs.append(s.feed(c))
        held.append(len(s._buf) + len(s._carry))
    assert any(outs[:-1])                       # something came out before the newline
    assert max(held) <= 1000 + 100 + 50
    out = b"".join(outs) + s.close()
    assert b"S3CR3T" not in out
    assert out.endswith(b"y" * 100 + b"\n")


def test_secret_straddling_a_forced_cut_is_masked_on_both_sides(masker: Masker) -> None:
    s = LineMasker(masker._scanner, line_limit=200, overlap=16)
    token = "ghp_" + "Z" * 36
    line = ("a" * 190 + " " + token + " " + "b" * 300 + "\n").encode()
    out = b"".join(s.feed(c) for c in chunked(line, lambda: 7)) + s.close()
    assert b"ZZZZZZ" not in out


def test_huge_pem_block_is_bounded(masker: Masker) -> None:
    s = LineMasker(masker._scanner, block_limit=2000)
    body = ("QUJDREVGR0hJSktMTU5PUFFSU1RVVldY" * 2 + "\n") * 200
    data = ("-----BEGIN PRIVATE KEY-----\n" + body + "-----END PRIVATE KEY-----\nafter\n")
    outs, held = [], []
    for c in chunked(data.encode(), lambda: 64):
        outs.append(s.feed(c))
        held.append(s._block_size + len(s._buf))
    assert max(held) <= 2000 + 200
    out = b"".join(outs) + s.close()
    assert b"QUJDREVG" not in out and out.endswith(b"-----END PRIVATE KEY-----\nafter\n")


def test_flush_emits_partial_line_masked_and_keeps_guarding(masker: Masker) -> None:
    s = masker.text_stream()
    assert s.feed(b"$ ") == b""
    assert s.flush() == b"$ "                      # an interactive prompt shows up
    first = s.feed(b"echo password=abc")
    first += s.flush()
    rest = s.feed(b"def\n")
    out = (b"$ " + first + rest).decode()
    assert "abc" not in out and "def" not in out and out.endswith("\n")


# -- watch -----------------------------------------------------------------------------------

def events() -> bytes:
    table = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "columnDefinitions": [],
             "rows": [{"cells": ["db", "Opaque", 1],
                       "object": secret(data={"password": "tablepw"})}]}
    evs: list[dict[str, Any]] = [
        {"type": "ADDED", "object": secret(data={"password": "watchpw"})},
        {"type": "MODIFIED", "object": table},
        {"type": "BOOKMARK", "object": {"kind": "Secret", "metadata": {"resourceVersion": "9"}}},
        {"type": "ERROR", "object": {"kind": "Status", "message": "too old", "code": 410}},
        {"type": "ADDED", "object": {"kind": "Pod", "metadata": {"name": "p"}}},
    ]
    return b"".join(orjson.dumps(e) + b"\n" for e in evs)


def run_watch(masker: Masker, chunks: list[bytes]) -> bytes:
    w = masker.watch_stream()
    return b"".join(w.feed(c) for c in chunks) + w.close()


def test_watch_events_masked_one_per_line(masker: Masker) -> None:
    out = run_watch(masker, [events()])
    lines = out.split(b"\n")
    assert lines[-1] == b"" and len(lines) == 6
    docs = [orjson.loads(line) for line in lines[:-1]]
    assert [d["type"] for d in docs] == ["ADDED", "MODIFIED", "BOOKMARK", "ERROR", "ADDED"]
    assert b"watchpw" not in out and b"tablepw" not in out
    assert b64("watchpw").encode() not in out and b64("tablepw").encode() not in out
    assert docs[4] == {"type": "ADDED", "object": {"kind": "Pod", "metadata": {"name": "p"}}}


@pytest.mark.parametrize("seed", range(8))
def test_watch_any_chunking(masker: Masker, seed: int) -> None:
    rng = random.Random(seed)
    data = events()
    assert run_watch(masker, chunked(data, lambda: rng.randint(1, 60))) == run_watch(
        masker, [data])


def test_watch_emits_each_event_as_soon_as_complete(masker: Masker) -> None:
    w = masker.watch_stream()
    first, second = events().split(b"\n", 2)[:2]
    assert w.feed(first[:10]) == b""
    assert w.feed(first[10:] + b"\n" + second[:5]).endswith(b"\n")


def test_watch_truncated_tail_raises(masker: Masker) -> None:
    w = masker.watch_stream()
    w.feed(events()[:-20])
    with pytest.raises(MaskingError):
        w.close()


def test_watch_garbage_line_raises(masker: Masker) -> None:
    w = masker.watch_stream()
    with pytest.raises(MaskingError):
        w.feed(b"not json\n")


def test_watch_event_size_is_bounded(masker: Masker) -> None:
    from kgate.proxy.masking.streams import WatchMasker
    w = WatchMasker(masker._mask_event, event_limit=1000)
    w.feed(b'{"type":"ADDED","object":{"data":"' + b"a" * 900)
    with pytest.raises(MaskingError):
        w.feed(b"a" * 200)


def test_watch_last_event_without_newline(masker: Masker) -> None:
    w = masker.watch_stream()
    ev = orjson.dumps({"type": "ADDED", "object": secret(data={"p": "nolf"})})
    assert w.feed(ev) == b""
    out = w.close()
    assert out and b"nolf" not in out and b64("nolf").encode() not in out


# -- exec frames -----------------------------------------------------------------------------

def test_exec_frames_masked_per_channel(masker: Masker) -> None:
    f = masker.exec_stream()
    out: list[bytes] = []
    out += f.feed(b"\x01password=ex")
    out += f.feed(b"\x02warn token=er")
    out += f.feed(b"\x01ecpw\nok\n")
    out += f.feed(b"\x02rpw\n")
    out += f.feed(b"\x00stdin password=typed\n")     # stdin goes upstream unchanged
    out += f.feed(b"\x03{\"status\":\"Success\"}")
    out += f.feed(b"\x04{\"Width\":80}")
    stdout = b"".join(o[1:] for o in out if o[0] == 1)
    stderr = b"".join(o[1:] for o in out if o[0] == 2)
    assert stdout.startswith(b"password=kgate:masked:") and stdout.endswith(b"\nok\n")
    assert b"execpw" not in stdout and b"ecpw" not in stdout
    assert stderr.startswith(b"warn token=kgate:masked:") and b"errpw" not in stderr
    assert b"\x00stdin password=typed\n" in out
    assert b"\x03{\"status\":\"Success\"}" in out and b"\x04{\"Width\":80}" in out
    assert f.masked == 2


def test_exec_flush_and_close_frame(masker: Masker) -> None:
    f = masker.exec_stream()
    assert f.feed(b"\x01# ") == []
    assert f.flush() == [b"\x01# "]
    assert f.feed(b"\x01ghp_" + b"W" * 36) == []
    out = f.feed(b"\xff\x01")                        # v5 close of stdout flushes it first
    assert out[-1] == b"\xff\x01"
    assert PLACEHOLDER_RE.search(out[0].decode()) and b"WWWW" not in out[0]


# -- a stream cut by its end (logs --limit-bytes) --------------------------------------------

def _cut_log(masker: Masker, text: str, *, split: int | None = None) -> str:
    stream = masker.text_stream()
    data = text.encode()
    parts = [data] if split is None else [data[:split], data[split:]]
    return (b"".join(stream.feed(p) for p in parts) + stream.close()).decode()


def test_a_stream_cut_inside_a_known_value_does_not_emit_its_first_half() -> None:
    masker = Masker(MaskingSettings(), b"k" * 32)
    masker.known.pin(["Zq8-no-context-at-all"])
    for cut in range(4, len("Zq8-no-context-at-all")):
        out = _cut_log(masker, "ok\nconnecting with " + "Zq8-no-context-at-all"[:cut], split=7)
        assert "Zq8-" not in out and out.startswith("ok\nconnecting with kgate:masked:"), cut


@pytest.mark.parametrize("tail", ["ghp_Q7Q7Q7Q7Q7Q7", "eyJhbGciOiJIUzI1", "AKIA1234ABCD",
                                  "glpat-abcdefgh"])
def test_a_cut_credential_shaped_last_word_is_masked(tail: str) -> None:
    out = _cut_log(Masker(MaskingSettings(), b"k" * 32), f"got token {tail}")
    assert tail not in out and out.startswith("got token kgate:masked:")


@pytest.mark.parametrize(("line", "kept"), [
    ("dsn postgres://app:lettersonly", "dsn postgres://app:"),
    ('config password: "hunterhu', 'config password: "'),
    ("export DB_PASSWORD='correcthorse", "export DB_PASSWORD='"),
])
def test_a_cut_before_the_closing_at_or_quote_is_masked(line: str, kept: str) -> None:
    out = _cut_log(Masker(MaskingSettings(), b"k" * 32), line)
    assert out.startswith(kept + "kgate:masked:"), out


@pytest.mark.parametrize("text", ["done", "finished cleanly", "count=12", "line\n"])
def test_ordinary_endings_are_left_alone(text: str) -> None:
    masker = Masker(MaskingSettings(), b"k" * 32)
    masker.known.pin(["Zq8-no-context-at-all"])
    assert _cut_log(masker, text) == text


def test_a_short_pinned_value_alone_without_newline_is_masked() -> None:
    masker = Masker(MaskingSettings(), b"k" * 32)
    masker.known.pin(["abcd"])
    frames = masker.exec_stream()
    out = frames.feed(b"\x01abcd") + frames.flush()
    assert b"abcd" not in b"".join(out)


@given(st.text(alphabet="AKIa0=/.~-_+ \"':@x\n", max_size=60))
def test_last_word_scan_agrees_with_the_anchored_pattern(text: str) -> None:
    """The backward scan that replaced a quadratic ``search`` finds the same last word."""
    from kgate.proxy.masking.streams import _last_word_start
    found = re.search(r"[A-Za-z0-9_+/.~-]{6,}={0,2}\Z", text)
    assert _last_word_start(text) == (found.start() if found else None)
