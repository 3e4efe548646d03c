"""Placeholders: keyed, stable within a session, unrelated across sessions, never re-masked."""

from __future__ import annotations

import pytest

from kgate.proxy.masking import PLACEHOLDER_RE, Masker, MaskingSettings, is_placeholder

from .conftest import KEY


def test_shape_and_stability(masker: Masker) -> None:
    ph = masker.placeholder("hunter2")
    assert PLACEHOLDER_RE.fullmatch(ph)
    assert ph.startswith("kgate:masked:") and len(ph) == len("kgate:masked:") + 8
    assert masker.placeholder("hunter2") == ph
    assert masker.placeholder(b"hunter2") == ph
    assert masker.placeholder("hunter3") != ph


def test_different_keys_give_different_placeholders() -> None:
    a = Masker(MaskingSettings(), KEY)
    b = Masker(MaskingSettings(), bytes(reversed(KEY)))
    assert a.placeholder("hunter2") != b.placeholder("hunter2")


def test_placeholder_does_not_contain_the_value(masker: Masker) -> None:
    assert "hunter2" not in masker.placeholder("hunter2")


def test_short_key_refused() -> None:
    with pytest.raises(ValueError):
        Masker(MaskingSettings(), b"short")


def test_is_placeholder() -> None:
    assert is_placeholder("kgate:masked:0123abcd")
    assert not is_placeholder("kgate:masked:0123abc")
    assert not is_placeholder("x kgate:masked:0123abcd")
    assert not is_placeholder("kgate:masked:0123ABCD")
