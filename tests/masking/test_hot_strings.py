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
