"""Big Lists and Tables, masked one item at a time to bound memory.

Parsing a 20 MB List into Python objects takes 12–18× the body in memory (small dicts and
strings dominate). Instead the top level is split without building objects — msgspec decodes it
into ``Raw`` views of the input — and each ``items[]`` element (or Table ``rows[]`` element) is
parsed, masked and serialised on its own, written straight into the output buffer. Peak memory
is then the input plus the output plus one item. Items that need no masking are copied as they
were, byte for byte.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from .placeholders import MaskingError

_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_STR = msgspec.json.Decoder(str)
_ANY = msgspec.json.Decoder()


def dumps(doc: Any) -> bytes:
    try:
        return orjson.dumps(doc)
    except TypeError:   # integers beyond 64 bits
        return msgspec.json.encode(doc)


def _kind(top: dict[str, msgspec.Raw]) -> str | None:
    raw = top.get("kind")
    if raw is None:
        return None
    try:
        return _STR.decode(raw)
    except msgspec.ValidationError:
        return None


def mask_collection(
    body: bytes,
    mask_item: Callable[[Any, str | None], int],
    mask_row: Callable[[Any], int],
) -> tuple[bytes, int] | None:
    """Mask a List (``items``) or Table (``rows``) element by element.

    Returns ``None`` when ``body`` is not such a collection (the caller parses it whole);
    ``(body, 0)`` unchanged when nothing needed masking. Raises ``MaskingError`` on bad JSON.
    """
    try:
        top = _TOP.decode(body)
    except msgspec.ValidationError:
        return None   # valid JSON, just not an object: let the whole-body path handle it
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise MaskingError("response body is not valid JSON; refusing to pass it unmasked") \
            from None
    kind = _kind(top)
    if kind == "Table" and "rows" in top:
        field, item_kind = "rows", None
    elif "items" in top and (kind is None or kind.endswith("List")):
        field = "items"
        item_kind = kind[:-4] if kind and kind != "List" else None
    else:
        return None
    try:
        elements = _ARRAY.decode(top[field])
    except msgspec.ValidationError:
        return None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise MaskingError("response body is not valid JSON") from None

    out = io.BytesIO()
    masked = 0
    out.write(b"{")
    for i, (key, raw) in enumerate(top.items()):
        if i:
            out.write(b",")
        out.write(orjson.dumps(key))
        out.write(b":")
        if key != field:
            out.write(memoryview(raw))
            continue
        out.write(b"[")
        for j, element in enumerate(elements):
            if j:
                out.write(b",")
            view = memoryview(element)
            try:
                doc = _ANY.decode(view)
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                raise MaskingError(f"{field}[{j}] is not valid JSON") from None
            if field == "rows":
                n = mask_row(doc)
            else:
                ik = doc.get("kind") if isinstance(doc, dict) else None
                n = mask_item(doc, ik if isinstance(ik, str) else item_kind)
            if n:
                masked += n
                out.write(dumps(doc))
            else:
                out.write(view)
            del doc, view
        out.write(b"]")
    out.write(b"}")
    if not masked:
        return body, 0
    return out.getvalue(), masked
