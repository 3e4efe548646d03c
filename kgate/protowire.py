"""A schema-less reader for the protobuf wire format, enough to see what a Kubernetes body is.

kubectl 1.32 sends protobuf request bodies for ``create secret|configmap|deployment|…``. The
proxy must pass them through (refusing them breaks kubectl) yet still learn the kind, namespace
and name for policy and audit. Kubernetes wraps every protobuf object the same way, so no schema
is needed for that much:

* the body starts with the magic ``b"k8s\\x00"``, followed by a ``runtime.Unknown`` message:
  field 1 ``TypeMeta`` (1 apiVersion, 2 kind), field 2 the raw object bytes, field 3
  contentEncoding, field 4 contentType;
* every top-level object's field 1 is its ``ObjectMeta``: 1 name, 2 generateName, 3 namespace,
  11 labels, 12 annotations (maps are repeated entry messages: 1 key, 2 value).

Everything here is pure and total: any malformed input (truncated, bad varint, over-long length,
wrong magic, unsupported wire type) raises ``ValueError`` and never anything else, because the
proxy feeds it untrusted bytes from the agent. Values are memoryviews into the caller's buffer,
so walking a large body copies nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

MAGIC = b"k8s\x00"

VARINT = 0
FIXED64 = 1
LEN = 2
FIXED32 = 5

_MAX_FIELD = (1 << 29) - 1

FieldValue = int | memoryview


def read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """Decode one base-128 varint at ``pos``; return ``(value, next position)``."""
    result = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise ValueError("protobuf: truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise ValueError("protobuf: varint longer than 10 bytes")


def iter_fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, FieldValue]]:
    """Yield ``(field number, wire type, value)`` for each field of one message.

    Varints and fixed-width values come back as ``int``; length-delimited values as a
    ``memoryview`` slice of ``buf``. Groups (wire types 3 and 4, unused by Kubernetes) are
    rejected like any other malformation.
    """
    view = buf if isinstance(buf, memoryview) else memoryview(buf)
    pos, end = 0, len(view)
    while pos < end:
        key, pos = read_varint(view, pos)
        number, wire = key >> 3, key & 7
        if number == 0 or number > _MAX_FIELD:
            raise ValueError(f"protobuf: invalid field number {number}")
        if wire == VARINT:
            value, pos = read_varint(view, pos)
            yield number, wire, value
        elif wire == LEN:
            length, pos = read_varint(view, pos)
            if length > end - pos:
                raise ValueError("protobuf: length-delimited field runs past the end")
            yield number, wire, view[pos:pos + length]
            pos += length
        elif wire == FIXED64:
            if pos + 8 > end:
                raise ValueError("protobuf: truncated fixed64")
            yield number, wire, int.from_bytes(view[pos:pos + 8], "little")
            pos += 8
        elif wire == FIXED32:
            if pos + 4 > end:
                raise ValueError("protobuf: truncated fixed32")
            yield number, wire, int.from_bytes(view[pos:pos + 4], "little")
            pos += 4
        else:
            raise ValueError(f"protobuf: unsupported wire type {wire}")


def as_bytes(value: FieldValue) -> memoryview:
    """A length-delimited value, or ``ValueError`` if the field had another wire type."""
    if not isinstance(value, memoryview):
        raise ValueError("protobuf: expected a length-delimited field")
    return value


def as_str(value: FieldValue) -> str:
    """A length-delimited value decoded as UTF-8 (``ValueError`` if it is not valid UTF-8)."""
    try:
        return str(as_bytes(value), "utf-8")
    except UnicodeDecodeError as e:
        raise ValueError("protobuf: string field is not valid UTF-8") from e


def as_int(value: FieldValue) -> int:
    """A varint value, or ``ValueError`` if the field had another wire type."""
    if isinstance(value, memoryview):
        raise ValueError("protobuf: expected a varint field")
    return value


def read_map_entry(value: FieldValue) -> tuple[str, memoryview]:
    """One ``map<string, …>`` entry: key (field 1) as text, value (field 2) as raw bytes."""
    key, raw = "", memoryview(b"")
    for number, _wire, item in iter_fields(as_bytes(value)):
        if number == 1:
            key = as_str(item)
        elif number == 2:
            raw = as_bytes(item)
    return key, raw


@dataclass(frozen=True)
class Envelope:
    """A decoded ``k8s\\0`` envelope (``runtime.Unknown``)."""

    api_version: str
    kind: str
    raw: bytes
    content_encoding: str = ""
    content_type: str = ""


@dataclass(frozen=True)
class ObjectRef:
    """What the ``ObjectMeta`` of a raw object says about it."""

    name: str = ""
    generate_name: str = ""
    namespace: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


def read_envelope(body: bytes) -> Envelope:
    """Check the ``k8s\\0`` magic and decode the ``runtime.Unknown`` behind it."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise ValueError("protobuf: body is not bytes")
    view = memoryview(body)
    if bytes(view[:4]) != MAGIC:
        raise ValueError("protobuf: missing k8s\\0 magic")
    api_version = kind = encoding = ctype = ""
    raw: memoryview | None = None
    for number, _wire, value in iter_fields(view[4:]):
        if number == 1:
            for tnum, _tw, tval in iter_fields(as_bytes(value)):
                if tnum == 1:
                    api_version = as_str(tval)
                elif tnum == 2:
                    kind = as_str(tval)
        elif number == 2:
            raw = as_bytes(value)
        elif number == 3:
            encoding = as_str(value)
        elif number == 4:
            ctype = as_str(value)
    if raw is None:
        raise ValueError("protobuf: envelope carries no object")
    return Envelope(api_version, kind, bytes(raw), encoding, ctype)


def peek_metadata(raw: bytes | memoryview) -> ObjectRef:
    """Read name, generateName, namespace, labels and annotations from a raw object's field 1."""
    meta: memoryview | None = None
    for number, _wire, value in iter_fields(raw):
        if number == 1:
            meta = as_bytes(value)
            break
    if meta is None:
        return ObjectRef()
    name = generate_name = namespace = ""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    for number, _wire, value in iter_fields(meta):
        if number == 1:
            name = as_str(value)
        elif number == 2:
            generate_name = as_str(value)
        elif number == 3:
            namespace = as_str(value)
        elif number in (11, 12):
            key, item = read_map_entry(value)
            target = labels if number == 11 else annotations
            target[key] = as_str(item)
    return ObjectRef(name, generate_name, namespace, labels, annotations)
