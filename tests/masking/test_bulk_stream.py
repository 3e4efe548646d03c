"""``Masker.mask_json_stream``: a big List's masking handed out in batches as it is done."""

from __future__ import annotations

from typing import Any

import pytest

from kgate.proxy.masking import Masker, MaskingError, MaskingSettings
from kgate.proxy.masking.bulk import BATCH

from .conftest import KEY, b64, dumps, loads, secret

COPIED = "Qv3-later-secret-value-77"


def big_list(n: int = 1500) -> dict[str, Any]:
    first = secret("a-first", {"k": "v"}, kind=False, annotations={"note": COPIED})
    items: list[dict[str, Any]] = [first] + [
        secret(f"s{i}", {"password": f"bulkpw-{i}"}, kind=False, annotations={"pad": "p" * 800})
        for i in range(n)]
    items.append(secret("z-last", {"token": COPIED}, kind=False))
    return {"apiVersion": "v1", "kind": "SecretList",
            "metadata": {"resourceVersion": "1"}, "items": items}


def test_batches_join_into_the_whole_body_result(masker: Masker) -> None:
    body = dumps(big_list())
    batches = masker.mask_json_stream(body)
    assert batches is not None
    parts = list(batches)
    whole = Masker(MaskingSettings(), KEY).mask_json(body)
    assert b"".join(parts) == whole.body and batches.masked == whole.masked
    assert len(parts) > 2 and all(BATCH <= len(p) < 2 * BATCH for p in parts[:-1])
    # The first item holds the last Secret's value: learned before the first batch.
    doc = loads(b"".join(parts))
    assert doc["items"][0]["metadata"]["annotations"]["note"].startswith("kgate:masked:")
    assert COPIED.encode() not in parts[0] and b64(COPIED).encode() not in b"".join(parts)


def test_only_big_collections_stream(masker: Masker) -> None:
    assert masker.mask_json_stream(dumps(big_list(10))) is None          # under 1 MiB
    big_object = dumps(secret("one", {"pad": "p" * 2_000_000}))
    assert masker.mask_json_stream(big_object) is None                   # not a List
    assert masker.mask_json_stream(b"k8s\x00" + b"x" * 2_000_000) is None  # protobuf


def test_a_bad_item_ends_the_stream_after_the_batches_before_it(masker: Masker) -> None:
    body = dumps(big_list()).replace(b'"name":"s1400"', b'"name":"s\xff\xfe"')
    batches = masker.mask_json_stream(body)
    assert batches is not None
    handed: list[bytes] = []
    with pytest.raises(MaskingError, match=r"items\[1401\] is not valid JSON"):
        for part in batches:
            handed.append(part)
    out = b"".join(handed)
    assert len(handed) > 2 and b'"s1000"' in out and b"bulkpw" not in out
    assert b"\xff" not in out and b'"s1401"' not in out and b'"z-last"' not in out


def test_a_list_nested_too_deeply_fails_before_any_batch(masker: Masker) -> None:
    body = dumps(big_list()).replace(b'"type":"Opaque"', b'"type":' + b"[" * 5000
                                     + b"]" * 5000, 1)
    with pytest.raises(MaskingError, match="nested too deeply"):
        batches = masker.mask_json_stream(body)
        assert batches is not None
        next(batches)
