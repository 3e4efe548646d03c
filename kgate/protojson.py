"""Decode Kubernetes protobuf bodies into the dicts their JSON would give (pure, bounded).

kubectl 1.32's typed clients (``create <kind>``, ``create job --from``, ``debug --copy-to``,
``create token``, ``auth whoami|can-i``) post ``application/vnd.kubernetes.protobuf``. Two
readers need the object behind those bytes: the sandbox API server, which stores JSON-shaped
dicts, and the proxy, which transcodes a body that writes a masked placeholder back to JSON so
it can restore the real value where that is allowed (``kgate.proxy.masking.protobody``). The
schema is ``kgate.protoschema``; each message maps to JSON the way Go does:

* Go's protobuf encoder writes every non-pointer field, zero or not; ``encoding/json`` omits zero
  scalars (``omitempty``) but always writes structs. So zero scalars are dropped, present messages
  become dicts (even empty: ``resources: {}``, ``status: {}``), and the pointer scalars whose
  zero is meaningful (``replicas: 0``, ``enableServiceLinks: false``) are marked ``keep_zero``. A
  slice or pointer without ``omitempty`` is JSON ``null`` when absent: those are marked ``null``.
* ``bytes`` values (Secret ``data``, ConfigMap ``binaryData``) become base64 text; maps are
  repeated entry messages (1 key, 2 value); a zero ``metav1.Time`` becomes ``null``;
  ``resource.Quantity`` becomes its string; ``IntOrString`` becomes an int or a string.
* Every value must arrive with the wire type its field is declared with; nesting depth
  (``MAX_DEPTH``) and the number of fields of one object (``MAX_FIELDS``) are bounded; lengths
  are checked by ``kgate.protowire``. Anything else is ``ValueError``.
* ``strict`` (the proxy): a field number the schema does not know is a ``ValueError`` whatever
  its value, and so is an unknown field of the envelope, a map entry or a Time/Quantity/
  IntOrString: the proxy must never forward a JSON document that dropped something the agent
  sent. Lenient (the sandbox): an unknown field is ignored if it carries the zero value, since
  the hand-written parts of the schema only list the fields kubectl fills in.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from kgate.protoschema import ROOTS, SCHEMA, F
from kgate.protowire import (
    FIXED32,
    FIXED64,
    LEN,
    MAGIC,
    VARINT,
    FieldValue,
    as_bytes,
    as_int,
    as_str,
    iter_fields,
)

#: How deep messages may nest. The schema's deepest path (a CronJob's pod affinity term's label
#: selector requirement) is 13 messages; anything deeper is not a Kubernetes object.
MAX_DEPTH = 24
#: How many fields one object may have in all. A real object (etcd keeps at most 1.5 MB) has a
#: few thousand; the bound keeps a 16 MB body of tiny empty messages from becoming millions of
#: dicts.
MAX_FIELDS = 250_000

_WIRE = {"int": VARINT, "bool": VARINT}   # every other kind is length-delimited
_WIRE_NAMES = {VARINT: "varint", LEN: "length-delimited"}


def has_schema(api_version: str, kind: str) -> bool:
    """Whether ``decode_object`` can decode objects of this kind."""
    return (api_version, kind) in ROOTS


def decode_object(body: bytes, *, strict: bool = False) -> dict[str, Any]:
    """Decode a ``k8s\\0``-enveloped protobuf body into the object's JSON-shaped dict.

    Raises ``ValueError`` for a malformed body, a kind this module has no schema for, or a
    field it does not know (see the module docstring for ``strict``).
    """
    api_version, kind, raw = _envelope(body, strict)
    root = ROOTS.get((api_version, kind))
    if root is None:
        raise ValueError(f"protobuf: no schema for {api_version} {kind}")
    obj: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    obj.update(decode_message(raw, root, strict=strict, budget=[MAX_FIELDS]))
    return obj


def _envelope(body: bytes, strict: bool) -> tuple[str, str, memoryview]:
    """``runtime.Unknown`` behind the magic: (apiVersion, kind, raw object)."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise ValueError("protobuf: body is not bytes")
    view = memoryview(body)
    if bytes(view[:4]) != MAGIC:
        raise ValueError("protobuf: missing k8s\\0 magic")
    api_version = kind = ""
    raw: memoryview | None = None
    for number, wire, value in iter_fields(view[4:]):
        if number not in (1, 2, 3, 4):
            if strict:
                raise ValueError(f"protobuf: envelope field {number} is not supported")
            continue
        _expect(wire, LEN, "runtime.Unknown", number)
        if number == 1:
            for tnum, twire, tval in iter_fields(as_bytes(value)):
                if tnum not in (1, 2):
                    if strict:
                        raise ValueError(f"protobuf: TypeMeta field {tnum} is not supported")
                    continue
                _expect(twire, LEN, "TypeMeta", tnum)
                if tnum == 1:
                    api_version = as_str(tval)
                else:
                    kind = as_str(tval)
        elif number == 2:
            raw = as_bytes(value)
        elif number == 3:
            if len(as_bytes(value)):
                raise ValueError("protobuf: unsupported contentEncoding")
    if raw is None:
        raise ValueError("protobuf: envelope carries no object")
    return api_version, kind, raw


def decode_message(raw: bytes | memoryview, message: str, *, strict: bool = False,
                   depth: int = 0, budget: list[int] | None = None) -> dict[str, Any]:
    """Decode one message of the schema into a dict (see the module docstring for the rules).

    ``budget`` is the number of fields the whole object may still have (one list shared by
    every nested call; ``MAX_FIELDS`` when not given)."""
    if depth >= MAX_DEPTH:
        raise ValueError("protobuf: messages nested too deeply")
    if budget is None:
        budget = [MAX_FIELDS]
    fields = SCHEMA[message]
    out: dict[str, Any] = {}
    for number, wire, value in iter_fields(raw):
        budget[0] -= 1
        if budget[0] < 0:
            raise ValueError(f"protobuf: more than {MAX_FIELDS} fields in one object")
        spec = fields.get(number)
        if spec is None:
            if not strict and _is_zero(wire, value):
                continue
            raise ValueError(f"protobuf: {message} field {number} is not supported")
        _decode_field(out, spec, wire, value, strict, depth, message, number, budget)
    for spec in fields.values():
        if spec.null and spec.name not in out:
            out[spec.name] = None
    return out


def _expect(wire: int, declared: int, message: str, number: int) -> None:
    if wire != declared:
        raise ValueError(f"protobuf: {message} field {number} has wire type {wire}, expected "
                         f"a {_WIRE_NAMES.get(declared, declared)} field")


def _is_zero(wire: int, value: FieldValue) -> bool:
    if wire == LEN:
        return len(as_bytes(value)) == 0
    return wire in (VARINT, FIXED32, FIXED64) and value == 0


def _decode_field(out: dict[str, Any], spec: F, wire: int, value: FieldValue, strict: bool,
                  depth: int, message: str, number: int, budget: list[int]) -> None:
    kind = spec.kind
    _expect(wire, _WIRE.get(kind, LEN), message, number)
    if kind == "map":
        key, item = _map_entry(as_bytes(value), spec.ref, strict)
        out.setdefault(spec.name, {})[key] = item
        return
    if kind == "inline":
        out.update(decode_message(as_bytes(value), spec.ref, strict=strict, depth=depth + 1,
                                  budget=budget))
        return
    if kind == "msg":
        decoded: Any = decode_message(as_bytes(value), spec.ref, strict=strict,
                                      depth=depth + 1, budget=budget)
    elif kind == "time":
        decoded = _time(as_bytes(value), strict)
    else:
        decoded = _scalar(kind, value, strict)
        if not spec.repeated and not spec.keep_zero and decoded in ("", 0, False):
            return
    if spec.repeated:
        out.setdefault(spec.name, []).append(decoded)
    else:
        out[spec.name] = decoded


def _map_entry(raw: memoryview, value_kind: str, strict: bool) -> tuple[str, Any]:
    """One ``map<string, …>`` entry: key (field 1) and value (field 2) decoded as ``value_kind``;
    an absent value is the kind's zero, as Go reads it."""
    key, item = "", None
    for number, wire, value in iter_fields(raw):
        if number == 1:
            _expect(wire, LEN, "map entry", 1)
            key = as_str(value)
        elif number == 2:
            _expect(wire, _WIRE.get(value_kind, LEN), "map entry", 2)
            item = _scalar(value_kind, value, strict)
        elif strict or not _is_zero(wire, value):
            raise ValueError(f"protobuf: map entry field {number} is not supported")
    if item is None:
        item = _scalar(value_kind, memoryview(b""), strict)
    return key, item


def _scalar(kind: str, value: FieldValue, strict: bool) -> Any:
    if kind == "str":
        return as_str(value)
    if kind == "bytes":
        return base64.b64encode(as_bytes(value)).decode("ascii")
    if kind == "int":
        number = as_int(value)
        return number - (1 << 64) if number >= 1 << 63 else number
    if kind == "bool":
        return as_int(value) != 0
    if kind == "quantity":
        text = "0"
        for number, wire, item in iter_fields(as_bytes(value)):
            if number == 1 and wire == LEN:
                text = as_str(item)
            elif strict:
                raise ValueError("protobuf: Quantity carries an unknown field")
        return text
    if kind == "intstr":
        return _intstr(as_bytes(value), strict)
    if kind == "strings":       # a message of one repeated string (authentication ExtraValue)
        return [as_str(v) for n, _w, v in iter_fields(as_bytes(value)) if n == 1]
    raise ValueError(f"protobuf: unknown field kind {kind}")


def _intstr(raw: memoryview, strict: bool) -> int | str:
    typ, int_val, str_val = 0, 0, ""
    for number, wire, value in iter_fields(raw):
        if number == 1 and wire == VARINT:
            typ = as_int(value)
        elif number == 2 and wire == VARINT:
            int_val = _scalar("int", value, strict)
        elif number == 3 and wire == LEN:
            str_val = as_str(value)
        elif strict:
            raise ValueError("protobuf: IntOrString carries an unknown field")
    return str_val if typ == 1 else int_val


def _time(raw: memoryview, strict: bool) -> str | None:
    seconds = 0
    for number, wire, value in iter_fields(raw):
        if number == 1 and wire == VARINT:
            seconds = _scalar("int", value, strict)
        elif number == 2 and wire == VARINT:
            continue   # nanoseconds: metav1.Time's JSON has whole seconds
        elif strict:
            raise ValueError("protobuf: Time carries an unknown field")
    if seconds == 0:
        return None
    try:
        stamp = dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError) as e:
        raise ValueError("protobuf: timestamp out of range") from e
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
