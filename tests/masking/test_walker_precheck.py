"""Property: what the raw JSON lets the walker skip changes nothing.

``Masker.mask_json`` hands the walker the reply's raw bytes, and the walker uses them to look at
fewer strings: only those holding a detector anchor meet the detectors (``hot.py``), only those
holding a known value's spelling are looked up (``objects._Precheck``), and a reply the raw form
proves clean is not parsed at all (``clean.py``). The same reply walked with no raw form at all
(every string suspect) must come out identical, for random objects full of anchors, known
values (some holding characters JSON escapes), escapes and non-ASCII text.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgate.proxy.masking import Masker, MaskingSettings

KEY = b"k" * 32
#: Known to the session before the reply: a Secret's values (one with a quote, one with a newline
#: and one with a backslash, which JSON spells differently from the text).
KNOWN = ["s3cretVALUE42", 'q"uoted-Val9', "line1-Val\nline2-Val", "back\\slash-Val7"]
SECRET = orjson.dumps({"kind": "Secret", "apiVersion": "v1", "type": "Opaque",
                       "metadata": {"name": "db", "namespace": "dev"},
                       "stringData": {f"k{i}": v for i, v in enumerate(KNOWN)}})

_PIECES = [*KNOWN, "s3cretVALUE4", "x", " ", "-", "=", ":", "/", "\n", '"', "\\", "\t", "é", "K",
           "\u212a", "token", "TOKEN", "password", "pass", "key", "AKIA", "AKIAIOSFODNN7EXAMPLE",
           "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "://u:p@h", "https://a:b@c/d",
           "--db-password=", "--token", "name", "value", "secret", "-----BEGIN ", "ghp_",
           "kgate:masked:0123abcd", "{", "[", "api_key=", "Bearer "]
#: Pieces with blanks between: a string that a known value runs into (``…Valpass``,
#: ``…Valapi_key=x``) is judged again after its known part is masked (``kgate:masked:…pass`` reads
#: as a ``pass`` key), so walking everything twice masks more there than walking once — more
#: masking, not less, and not what this property is about.
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=6).map(" ".join)
_KEYS = st.one_of(st.sampled_from(["name", "value", "env", "args", "data", "labels",
                                   "annotations", "message", "image", "uid", "password",
                                   "apiKey", "token", "managedFields", "fieldsV1", "x"]),
                  _TEXT)


def _tree() -> st.SearchStrategy[Any]:
    leaf = st.one_of(_TEXT, st.integers(-3, 3), st.booleans(), st.none())
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(_KEYS, inner, max_size=4),
            st.builds(lambda n, v: {"name": n, "value": v}, _TEXT, _TEXT)),
        max_leaves=30)


_OBJECT = st.fixed_dictionaries({
    "kind": st.sampled_from(["ConfigMap", "Pod", "Widget", "Event", "Status"]),
    "apiVersion": st.just("v1"),
    "metadata": st.fixed_dictionaries({"name": _TEXT, "namespace": st.just("dev")},
                                      optional={"labels": st.dictionaries(_KEYS, _TEXT,
                                                                          max_size=3)}),
    "spec": _tree(),
})


def _maskers() -> tuple[Masker, Masker]:
    fast, full = Masker(MaskingSettings(), KEY), Masker(MaskingSettings(), KEY)
    for m in (fast, full):
        m.learn(SECRET)
    return fast, full


#: How a reply may be spelled: compact UTF-8 (Go, orjson), ASCII with ``\\u`` escapes, indented.
_ENCODERS = {
    "compact": orjson.dumps,
    "ascii": lambda o: json.dumps(o).encode(),
    "indented": lambda o: json.dumps(o, indent=1, ensure_ascii=False).encode(),
}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=_OBJECT, encoder=st.sampled_from(sorted(_ENCODERS)))
def test_raw_prechecks_change_nothing(obj: dict[str, Any], encoder: str) -> None:
    fast, full = _maskers()
    body = _ENCODERS[encoder](obj)
    via_raw = orjson.loads(fast.mask_json(body).body)
    doc = orjson.loads(body)
    full._objects.document(doc)   # no raw form: every string is suspect
    assert via_raw == doc
