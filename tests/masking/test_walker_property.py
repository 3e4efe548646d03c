"""Property: random objects with secret values planted at random string positions (values and
keys, harmless fields included) — none of them survives masking, in any encoding.

A planted value is secret either because a Secret in the same List holds it (the masker learns
it before walking the rest; then it is found anywhere, harmless fields included) or because it
is credential-shaped (a GitHub or GitLab token, an AWS key id, a JWT) and the detectors know its
shape (then it is found in free text, the second test). Values are planted as whole strings or
between delimiters (``password=…``, quoted, in a URL, after a space): how the API server copies
them.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgate.proxy.masking import Masker, MaskingSettings
from tests.attacks.leaks import assert_no_leak

MARK = "PLANTEDxMARK"
_KEYS = ["metadata", "name", "namespace", "labels", "annotations", "spec", "status", "data",
         "containers", "env", "value", "args", "command", "message", "reason", "note", "items",
         "type", "image", "uid", "config", "x", "y", "parameters", "template", "fieldsV1"]
_SAFE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-. ", min_size=0, max_size=12)
_AROUND = st.sampled_from(["{}", " {} ", "x={}", "password={}", '"{}"', "https://u:{}@h/p",
                           "--token={}", "{}\n", "Invalid value: \"{}\""])

_alnum = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                 min_size=8, max_size=24)
_known_value = st.builds(lambda a, b: f"{a}7Q{b}", _alnum, _alnum)
_shaped_value = st.one_of(
    st.builds(lambda s: "ghp_" + (s * 5)[:36], _alnum),
    st.builds(lambda s: "glpat-" + (s * 3)[:20], _alnum),
    st.builds(lambda s: "AKIA" + (s.upper() * 3)[:16], _alnum),
    st.builds(lambda a, b: f"eyJhbGciOiJIUzI1NiJ9.eyJ{a}.{b}", _alnum, _alnum),
)


def _strings() -> st.SearchStrategy[str]:
    return st.one_of(_SAFE, _AROUND.map(lambda t: t.format(MARK)))


def _objects_with(keys: list[str], name: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    leaf = st.one_of(_strings(), st.integers(-5, 5), st.booleans(), st.none())
    tree = st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.one_of(st.sampled_from(keys), _strings()), inner, max_size=5)),
        max_leaves=25)
    return st.fixed_dictionaries({
        "kind": st.sampled_from(["ConfigMap", "Pod", "Widget", "Event", "Status", "Deployment"]),
        "metadata": st.fixed_dictionaries(
            {"name": name, "namespace": st.just("dev")},
            optional={"labels": st.dictionaries(_strings(), _strings(), max_size=3),
                      "annotations": st.dictionaries(_strings(), _strings(), max_size=3)}),
    }, optional={"spec": tree, "data": tree, "status": tree, "message": _strings()})


#: Known values are looked for everywhere, harmless fields (names, uids, images) included.
_objects = _objects_with(_KEYS, _strings())
#: Detectors skip the harmless fields (a real name or image cannot hold ``ghp_…``): leave
#: them out when the only thing that makes a value secret is its shape.
_free_text_objects = _objects_with(
    [k for k in _KEYS if k not in ("name", "uid", "image", "type", "reason", "fieldsV1")], _SAFE)


def _plant(obj: dict[str, Any], values: list[str]) -> tuple[dict[str, Any], int]:
    """Replace each marker by the next value (round robin); returns the object and the count."""
    text = orjson.dumps(obj).decode()
    parts = text.split(MARK)
    out = [parts[0]]
    for i, part in enumerate(parts[1:]):
        out.append(values[i % len(values)])
        out.append(part)
    return orjson.loads("".join(out)), len(parts) - 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(objs=st.lists(_objects, min_size=1, max_size=4),
       known=st.lists(_known_value, min_size=1, max_size=3, unique=True),
       shaped=st.lists(_shaped_value, max_size=2))
def test_no_planted_value_survives(objs: list[dict[str, Any]], known: list[str],
                                   shaped: list[str]) -> None:
    values = known + shaped
    planted = [_plant(o, values)[0] for o in objs]
    secret = {"kind": "Secret", "apiVersion": "v1", "type": "Opaque",
              "metadata": {"name": "planted", "namespace": "dev"},
              "data": {f"k{i}": base64.b64encode(v.encode()).decode()
                       for i, v in enumerate(values)}}
    for where in (0, len(planted)):    # the Secret first or last in the List
        items = [*planted[:where], secret, *planted[where:]]
        masker = Masker(MaskingSettings(), b"k" * 32)
        out = masker.mask_json(orjson.dumps({"kind": "List", "items": items})).body
        assert_no_leak(out, values)


@settings(max_examples=60, deadline=None)
@given(obj=_free_text_objects, shaped=st.lists(_shaped_value, min_size=1, max_size=2))
def test_credential_shapes_found_without_a_secret(obj: dict[str, Any],
                                                  shaped: list[str]) -> None:
    planted, _ = _plant(obj, shaped)
    masker = Masker(MaskingSettings(), b"k" * 32)
    out = masker.mask_json(orjson.dumps(planted)).body
    assert_no_leak(out, shaped)
