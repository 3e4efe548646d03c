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


class _SecretView(msgspec.Struct):
    """Just enough of an element to learn its Secret values (the rest is skipped unparsed)."""

    kind: Any = None
    type: Any = None
    data: Any = None
    stringData: Any = None  # noqa: N815 - the field's name on the wire
    object: Any = None


_SECRET_VIEW = msgspec.json.Decoder(_SecretView)


def _learn_element(raw: memoryview, field: str, item_kind: str | None,
                   learn: Callable[[Any, str | None], None]) -> None:
    """Phase one: Secrets anywhere in the collection are learned before any element is masked,
    so a value copied from a Secret into another element's name or label is found there."""
    if not _MAY_HOLD[field](raw):
        return   # no such field spelled anywhere in it (and no escape that could spell one)
    try:
        view = _SECRET_VIEW.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return   # not an object: phase two parses it and fails closed if it must
    if field == "rows":
        if isinstance(view.object, dict):
            learn(view.object, None)
        return
    if view.data is None and view.stringData is None:
        return
    learn({"kind": view.kind, "type": view.type, "data": view.data,
           "stringData": view.stringData},
          view.kind if isinstance(view.kind, str) else item_kind)


def _may_hold(*names: bytes) -> Callable[[memoryview], bool]:
    def check(raw: memoryview) -> bool:
        data = bytes(raw)
        return b"\\" in data or any(name in data for name in names)
    return check


#: Cheap byte checks before phase one parses an element: a Pod with no ``"data"`` key anywhere
#: cannot be (or wrap) a Secret with values.
_MAY_HOLD = {"items": _may_hold(b'"data"', b'"stringData"'), "rows": _may_hold(b'"object"')}


def mask_collection(
    body: bytes,
    mask_item: Callable[[Any, str | None, memoryview], int],
    mask_row: Callable[[Any, memoryview], int],
    learn: Callable[[Any, str | None], None] | None = None,
    mask_envelope: Callable[[dict[str, Any], str | None], int] | None = None,
    clean: Callable[[memoryview, str | None], bool] | None = None,
) -> tuple[bytes, int] | None:
    """Mask a List (``items``) or Table (``rows``) element by element.

    ``learn`` (optional) sees every element's Secret parts first; ``mask_envelope`` (optional)
    masks the collection's own fields besides the elements (``metadata``, column definitions);
    ``clean`` (optional, ``clean.CleanCheck``) vouches from an element's raw JSON that masking
    would change nothing: it is copied without being parsed.
    The maskers get each element's raw JSON too (for their pre-check). Returns ``None`` when
    ``body`` is not such a collection (the caller parses it whole); ``(body, 0)`` unchanged
    when nothing needed masking. Raises ``MaskingError`` on bad JSON.
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

    if learn is not None:
        for element in elements:
            _learn_element(memoryview(element), field, item_kind, learn)

    masked = 0
    envelope: dict[str, Any] = {}
    if mask_envelope is not None:
        try:
            envelope = {k: _ANY.decode(raw) for k, raw in top.items() if k != field}
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            raise MaskingError("response body is not valid JSON") from None
        masked += mask_envelope(envelope, kind)
    envelope_masked = masked > 0
    out = io.BytesIO()
    out.write(b"{")
    for i, (key, raw) in enumerate(top.items()):
        if i:
            out.write(b",")
        out.write(orjson.dumps(key))
        out.write(b":")
        if key != field:
            out.write(dumps(envelope[key]) if envelope_masked else memoryview(raw))
            continue
        out.write(b"[")
        for j, element in enumerate(elements):
            if j:
                out.write(b",")
            view = memoryview(element)
            if clean is not None and clean(view, item_kind):
                out.write(view)   # provably nothing to mask: bytes as they came
                continue
            try:
                doc = _ANY.decode(view)
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                raise MaskingError(f"{field}[{j}] is not valid JSON") from None
            if field == "rows":
                n = mask_row(doc, view)
            else:
                ik = doc.get("kind") if isinstance(doc, dict) else None
                n = mask_item(doc, ik if isinstance(ik, str) else item_kind, view)
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
