"""Dense anchors: the fast path finds exactly what the per-anchor scan finds.

A text dense with detector anchors (``AKIA AKIA …``, ``token token …``) is scanned by one
candidate regex per (anchor, detector) instead of a Python step per anchor (issue 15). That is
only sound if no candidate regex drops a position where a detector would have produced an edit.
The reference below is the straightforward scan: every non-overlapping occurrence of every
anchor, found with ``str.find``, tried in order. Hypothesis builds anchor-dense texts from the
detectors' vocabulary, with block and density thresholds lowered so that every text takes the
fast path (and crosses block edges), and the edits must be identical.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgate.proxy.masking import MaskingSettings, detectors
from kgate.proxy.masking.catalogue import BUILTIN
from kgate.proxy.masking.detectors import TextScanner, _ascii_lower
from kgate.proxy.masking.edit import Edit
from kgate.proxy.masking.placeholders import Placeholders

from .conftest import KEY


class _Reference(TextScanner):
    """The per-anchor scan: each occurrence of each anchor, no automaton, no candidates."""

    def _anchor_starts(self, text: str, data: bytes) -> list[tuple[int, detectors._Probe]]:
        low = _ascii_lower(text)
        found: list[tuple[int, int, int, detectors._Probe]] = []
        for entries in self._anchors:
            for rank, anchor, probes, cased in entries:
                pattern = anchor.lower()
                pos = low.find(pattern)
                while pos >= 0:
                    if cased and not text.startswith(anchor, pos):
                        pos = low.find(pattern, pos + 1)
                        continue
                    found.extend((pos, rank, i, p) for i, p in enumerate(probes))
                    pos = low.find(pattern, pos + len(pattern))
        found.sort(key=lambda f: f[:3])
        return [(f[0], f[3]) for f in found]


def _scanners() -> tuple[TextScanner, TextScanner]:
    ph = Placeholders(KEY)
    return TextScanner(MaskingSettings(), ph), _Reference(MaskingSettings(), ph)


FAST, REFERENCE = _scanners()

_ANCHORS = sorted({a for dets in BUILTIN.values() for d in dets for a in (*d.exact, *d.lower)})
# What surrounds anchors in real and hostile text: separators, quotes, key characters, escapes,
# line starts, values, the shapes the detectors look for, and their near misses.
_PIECES = [
    " ", "  ", "\t", "\n", "\r\n", "\n  ", "\n- ", "-", "_", ".", "=", ":", ": ", "=>", ":=",
    '"', "'", "\\", "\\u0070", "\\u0077", "\\x41", "(", ")", ",", ";", "<", ">", "</", "@",
    "://", "a", "X", "0", "é", "?", "name", "name: ", "key", "value", "word", "password",
    "PASSWORD", "bearer", "requirepass", "masterauth", "account", "passphrase", "curl -u a:b",
    "mysql -pX", " -p ", "IDENTIFIED BY ", "identified by 'x'", "password for u = 'p'", "login",
    "machine h login u password p", "ABCDEFGHIJKLMNOP", "0123456789ABCDEF", "aaaa", "hunter2",
    "Xy9-Val", "AKIA0123456789ABCDEF", "akia", "AKIAKIA", "eyJhbGciOiJIUzI1NiJ9", "eyJhbGci",
    "xoxox", "sshpasshpass", "AIzaIza", "ASIASIA", "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----", "PRIVATE KEY-----", "kgate:masked:0123abcd", "${X}",
    "https://u:p@h", "x://a:b@", "*a", "&a", "|", ">-", "#", "[", "]", "{", "}",
    '{"name": "', '", "value": "', "- name: ", "\n  value: ", '<add key="', '" value="',
    "<password>", "</password>", "<ns:", "<token", "secret>", "key=", "name=", "DB_",
]
_TEXT = st.lists(st.sampled_from(_ANCHORS + _PIECES), min_size=1, max_size=80) \
    .map("".join)


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every anchor seen twice in a block of 64 characters is dense: the fast path everywhere."""
    monkeypatch.setattr(detectors, "_BLOCK", 64)
    monkeypatch.setattr(detectors, "_DENSE", 2)
    FAST._automata.clear()


def _same(text: str) -> None:
    got: list[Edit] = FAST.edits(text)
    want: list[Edit] = REFERENCE.edits(text)
    assert got == want, text


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
@given(text=_TEXT)
def test_fast_path_finds_what_the_per_anchor_scan_finds(small_blocks: None, text: str) -> None:
    _same(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(unit=_TEXT, repeat=st.integers(2, 40))
def test_repeated_units(small_blocks: None, unit: str, repeat: int) -> None:
    """An attacker repeats one unit: each occurrence of its anchors has the same neighbours."""
    _same(unit * repeat)


# One of each form a key detector accepts, so that each branch of a candidate regex is needed.
_SHAPES = [
    "<password>hunter2</password>", "<ns:token>abc123</ns:token>", "<secret >x1</secret>",
    '{"name": "DB_PASSWORD", "value": "x"}', "- name: API_TOKEN\n  value: s3cr3t\n",
    '<add key="DbPassword" value="v"/>', "name: token\n  value: t0k\n",
    "machine h login u pass p\n", "machine h login u password p\n", "requirepass foo\n",
    "masterauth bar\n", "bearer abcDEF123456\n", "Authorization: Bearer abcDEF123456\n",
    "token xY9ab1cd\n", "  - token xY9ab1cd\n", "x --password v\n", '["--token", "v1"]',
    "- --password\n- v\n", "PASSWORD('x')", "password 'q'", "pass\\u0077ord=zz ",
    "\\u0070assword: zz\n", "token\tvalue9\n", "password:\n  multi\n  line\n",
    "password: |\n  block\n", 'api_key = "k3y"', "export TOKEN=abc", "aws_secret_access_key="
    + "A" * 40, "curl -u admin:pw http://x", "mysql -uroot -ppw", "redis-cli -a pw",
    "docker login -u u -p pw", "IDENTIFIED BY tiger;", "password for u = 'p'",
]


@pytest.mark.parametrize("shape", _SHAPES)
def test_each_form_through_the_fast_path(small_blocks: None, shape: str) -> None:
    for sep in (" ", "\n", "\t", ", ", "x"):
        _same(shape + sep + shape + sep + shape)
    assert REFERENCE.edits(shape + "\n" + shape), "the shape is not a secret: a useless case"


@pytest.mark.parametrize("unit", [
    "AKIA ", "AKIA", "token ", "eyJaaaa.", "password=", "password= ", "-----BEGIN ", "://a:b@",
    "x://a:b@", "token\n", "xtoken ", "name: token\n", "- token x\n", "<token ", "a:token ",
    "password x ", "AKIA0123456789ABCDEF ", "xoxb-0123456789ab ", "LS0tLS1CRUdJTi",
])
def test_dense_units_at_default_thresholds(unit: str) -> None:
    """The attack inputs of issue 15 at real size, through the real block and density limits."""
    text = unit * (20_000 // len(unit))
    _same(text)
    _same("prefix line\n" + text + "\nsuffix")
