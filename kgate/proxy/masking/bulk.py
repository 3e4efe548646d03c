"""Big Lists and Tables, masked one item at a time to bound memory.

Parsing a 20 MB List into Python objects takes 12–18× the body in memory (small dicts and
strings dominate). Instead the top level is split without building objects — msgspec decodes it
into ``Raw`` views of the input — and each ``items[]`` element (or Table ``rows[]`` element) is
parsed, masked and serialised on its own, written straight into the output buffer. Items the
raw-bytes check (``clean.py``) proves clean are copied as they were, byte for byte, unparsed;
every other item goes out as the walker left it, re-encoded even when nothing changed (its raw
bytes may hold a key twice, and only the last was walked).

The output comes in batches (``MaskedCollection``): the proxy sends each as soon as it is done,
so peak memory is the input plus a batch or two plus one item, and the agent reads the first
items while the last are being masked. ``mask_collection`` joins them for the whole-body path.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

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


#: Output is handed out in batches of about this size (``MaskedCollection``): big enough that
#: the hop to the socket is rare, small enough that the agent gets its first bytes early and
#: kgate holds little output at a time (``docs/performance.md``, "Big Lists, streamed").
BATCH = 128 * 1024


class _Split(NamedTuple):
    top: dict[str, msgspec.Raw]
    kind: str | None
    field: str
    item_kind: str | None
    elements: list[msgspec.Raw]


def _split(body: bytes) -> _Split | None:
    """The collection's top level and its elements as raw views, or ``None`` if ``body`` is
    not a List or Table. ``MaskingError`` on bad JSON."""
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
    return _Split(top, kind, field, item_kind, elements)


@dataclass(frozen=True)
class Parts:
    """What masks each part of a collection: ``item`` an element of ``items`` (with the kind
    the List implies when it has none), ``row`` an element of a Table's ``rows``; optional:
    ``learn`` sees every element's Secret parts first, ``envelope`` masks the collection's own
    fields (``metadata``, column definitions), ``clean`` (``clean.CleanCheck``) vouches from an
    element's raw JSON that masking would change nothing (it is then copied, unparsed). The
    maskers get each element's raw JSON too (for their pre-check)."""

    item: Callable[[Any, str | None, memoryview], int]
    row: Callable[[Any, memoryview], int]
    learn: Callable[[Any, str | None], None] | None = None
    envelope: Callable[[dict[str, Any], str | None], int] | None = None
    clean: Callable[[memoryview, str | None], bool] | None = None


class MaskedCollection:
    """A List or Table masked element by element, handed out in batches of output bytes.

    Iterating runs phase one (every Secret in the collection is learned before any element is
    masked) with the first batch, then masks elements until about ``batch`` bytes of output
    are ready. Concatenated, the batches are the masked document. A ``MaskingError`` ends the
    iteration: what was handed out before it is an incomplete document, so whoever sends it
    must cut the connection. ``masked`` counts the values replaced so far.
    """

    def __init__(self, split: _Split, parts: Parts, batch: int = BATCH) -> None:
        self.masked = 0
        self._steps = self._run(split, parts, batch)

    def __iter__(self) -> MaskedCollection:
        return self

    def __next__(self) -> bytes:
        return next(self._steps)

    def _run(self, split: _Split, parts: Parts, batch: int) -> Iterator[bytes]:
        top, kind, field, item_kind, elements = split
        learn, mask_envelope, clean = parts.learn, parts.envelope, parts.clean
        if learn is not None:
            for element in elements:
                _learn_element(memoryview(element), field, item_kind, learn)

        envelope: dict[str, Any] = {}
        if mask_envelope is not None:
            try:
                envelope = {k: _ANY.decode(raw) for k, raw in top.items() if k != field}
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                raise MaskingError("response body is not valid JSON") from None
            self.masked += mask_envelope(envelope, kind)
        out = io.BytesIO()
        out.write(b"{")
        for i, (key, raw) in enumerate(top.items()):
            if i:
                out.write(b",")
            out.write(orjson.dumps(key))
            out.write(b":")
            if key != field:
                # what the envelope's masker looked at, not the raw bytes (which may hold a
                # key twice: the decoder keeps the last, the raw form both)
                out.write(dumps(envelope[key]) if mask_envelope is not None
                          else memoryview(raw))
                continue
            out.write(b"[")
            for j, element in enumerate(elements):
                if out.tell() >= batch:   # first, so that a ``continue`` below cannot skip it
                    yield out.getvalue()
                    out.seek(0)
                    out.truncate()
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
                if not isinstance(doc, dict):
                    # not an object: nothing a List or Table holds (the walker of a whole body
                    # would take it as text; here the element could not be replaced)
                    raise MaskingError(f"{field}[{j}] is not an object; refusing to pass it")
                if field == "rows":
                    n = parts.row(doc, view)
                else:
                    ik = doc.get("kind")
                    n = parts.item(doc, ik if isinstance(ik, str) else item_kind, view)
                if n:
                    self.masked += n
                # Not the raw bytes even when nothing changed: they may hold a key twice, and
                # the decoder (like Go's) kept only the last one — what was walked is what goes.
                out.write(dumps(doc))
                del doc, view
            out.write(b"]")
        out.write(b"}")
        yield out.getvalue()


def stream_collection(body: bytes, parts: Parts, batch: int = BATCH) -> MaskedCollection | None:
    """A List (``items``) or Table (``rows``) to be masked batch by batch by ``parts``; ``None``
    when ``body`` is not such a collection (the caller masks it whole). Raises
    ``MaskingError`` on bad JSON (here for the top level, while iterating for an element)."""
    split = _split(body)
    if split is None:
        return None
    return MaskedCollection(split, parts, batch)


def mask_collection(body: bytes, parts: Parts) -> tuple[bytes, int] | None:
    """``stream_collection`` in one piece: ``None`` when ``body`` is not a List or Table,
    else the masked body and the count."""
    batches = stream_collection(body, parts)
    if batches is None:
        return None
    return b"".join(batches), batches.masked
