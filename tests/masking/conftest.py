"""Shared helpers for the masking tests: a masker with a fixed key and object builders."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from kgate.proxy.masking import Masker, MaskingSettings

KEY = bytes(range(32))


@pytest.fixture
def masker() -> Masker:
    return Masker(MaskingSettings(), KEY)


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text, validate=True).decode()


def secret(name: str = "db", data: dict[str, str] | None = None, *,
           string_data: dict[str, str] | None = None, kind: bool = True,
           annotations: dict[str, str] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "dev"},
        "type": "Opaque",
    }
    if kind:
        obj = {"apiVersion": "v1", "kind": "Secret", **obj}
    if data is not None:
        obj["data"] = {k: b64(v) for k, v in data.items()}
    if string_data is not None:
        obj["stringData"] = dict(string_data)
    if annotations:
        obj["metadata"]["annotations"] = dict(annotations)
    return obj


def dumps(doc: Any) -> bytes:
    return orjson.dumps(doc)


def loads(body: bytes) -> Any:
    return orjson.loads(body)
