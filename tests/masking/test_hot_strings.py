"""The hot-string pre-scan (``masking/hot.py``) must never vouch for a string an anchor hides in.

Escapes other than ``\\u`` and ``\\/`` only move a string's quotes; the scan must still find the
string that holds an anchor, decoded, and give up (``None``) where it cannot be sure.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from kgate.proxy.masking.hot import HotStrings
from kgate.proxy.masking.settings import MaskingSettings

HOT = HotStrings(MaskingSettings())
ANCHORS = ["AKIA", "token", "password", "eyJ", "://", "-----BEGIN", "ghp_"]


def test_escaped_quotes_and_newlines_still_give_the_decoded_hot_string() -> None:
    doc = {"a": 'say "AKIAXYZ" twice\n', "b": "plain", "c\\d": "x", "e": 'q"token=1'}
    hot = HOT.scan(json.dumps(doc).encode())
    assert hot is not None
    assert 'say "AKIAXYZ" twice\n' in hot and 'q"token=1' in hot
    assert "plain" not in hot


def test_unicode_and_slash_escapes_make_the_scan_give_up() -> None:
    assert HOT.scan(b'{"a":"\\u0041KIA1234"}') is None
    assert HOT.scan(b'{"a":"https:\\/\\/u:p@host"}') is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=12), st.sampled_from(ANCHORS + [""]),
                          st.text(max_size=12)), min_size=1, max_size=8))
def test_every_string_holding_an_anchor_is_hot(parts: list[tuple[str, str, str]]) -> None:
    values = [a + anchor + b for a, anchor, b in parts]
    raw = json.dumps({f"k{i}": v for i, v in enumerate(values)}, ensure_ascii=False).encode()
    hot = HOT.scan(raw)
    if hot is None:
        return  # gave up: the walker checks every string
    for v in values:
        if any(anchor.lower() in v.lower() for anchor in ANCHORS):
            assert v in hot, (v, raw)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=12), st.sampled_from(ANCHORS + [""]),
                          st.text(max_size=12)), min_size=1, max_size=8),
       st.sampled_from(["AKIA", "token ", "eyJaaaa.", "x"]))
def test_dense_text_takes_the_per_string_path_and_finds_the_same_strings(
        parts: list[tuple[str, str, str]], unit: str) -> None:
    """Past 2,048 anchors in the first 64 KiB the scan asks each string once instead of
    listing every match: it must name exactly the strings the match-by-match scan names."""
    values = [a + anchor + b for a, anchor, b in parts]
    doc = {f"k{i}": v for i, v in enumerate(values)}
    doc["dense"] = unit * (200_000 // len(unit))
    raw = json.dumps(doc, ensure_ascii=False).encode()
    fast = HOT.scan(raw)
    escaped = b"\\" in raw
    if escaped and (b"\\u" in raw or b"\\/" in raw):
        assert fast is None
        return
    slow = HOT._by_string(raw, raw.lower(), escaped) if unit == "x" else None
    assert fast is not None
    for v in values:
        if any(anchor.lower() in v.lower() for anchor in ANCHORS):
            assert v in fast, v
    if unit != "x":
        assert doc["dense"] in fast
    if slow is not None:   # a body that is not dense: both paths agree exactly
        assert slow == fast
