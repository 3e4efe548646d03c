"""Big Lists and Tables are masked item by item: same result as the whole-body path."""

from __future__ import annotations

from typing import Any

import pytest

from kgate.proxy.masking import Masker, MaskingError
from kgate.proxy.masking.bulk import Parts, mask_collection

from .conftest import b64, dumps, loads, secret


def big_list(n: int = 1500) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        secret(f"s{i}", {"password": f"bulkpw-{i}", "pad": "p" * 600}, kind=False)
        for i in range(n)]
    items.append({"metadata": {"name": "plain"}, "type": "x", "data": {}})
    return {"apiVersion": "v1", "kind": "SecretList",
            "metadata": {"resourceVersion": "1"}, "items": items}


def whole(masker: Masker, doc: Any) -> tuple[Any, int]:
    n = masker._objects.document(doc)
    return doc, n


def test_list_over_the_threshold_matches_whole_path(masker: Masker) -> None:
    doc = big_list()
    body = dumps(doc)
    assert len(body) > 1024 * 1024
    res = masker.mask_json(body)
    expected, n = whole(masker, loads(body))
    assert res.masked == n == 3000
    assert loads(res.body) == expected
    assert b"bulkpw-7" not in res.body and b64("bulkpw-7").encode() not in res.body
    assert list(loads(res.body)) == ["apiVersion", "kind", "metadata", "items"]


def test_table_rows(masker: Masker) -> None:
    rows = [{"cells": [f"s{i}", "Opaque"], "object": secret(f"s{i}", {"p": f"rowpw{i}"})}
            for i in range(10)]
    body = dumps({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "rows": rows})
    out = mask_collection(body, Parts(masker._objects.item, masker._objects.row))
    assert out is not None and out[1] == 10
    assert b"rowpw" not in out[0] and b64("rowpw3").encode() not in out[0]


def test_unchanged_list_returned_as_is(masker: Masker) -> None:
    body = dumps({"kind": "PodList", "items": [{"metadata": {"name": "p"}}]})
    assert mask_collection(body, Parts(masker._objects.item, masker._objects.row)) == (body, 0)


def test_not_a_collection(masker: Masker) -> None:
    for body in (dumps(secret(data={"a": "b"})), b"[1,2]", dumps({"kind": "Foo", "items": 3})):
        assert mask_collection(body, Parts(masker._objects.item, masker._objects.row)) is None


@pytest.mark.parametrize("cut", [10, 5000, -3])
def test_truncated_big_list_raises(masker: Masker, cut: int) -> None:
    body = dumps(big_list())[:cut]
    with pytest.raises(MaskingError):
        masker.mask_json(body + b" " * (1024 * 1024))


def test_big_integers_in_items(masker: Masker) -> None:
    raw = dumps(big_list(1500))
    raw = raw.replace(b'"items":[{', b'"items":[{"x":' + str(2**80).encode() + b",", 1)
    res = masker.mask_json(raw)
    assert str(2**80).encode() in res.body
