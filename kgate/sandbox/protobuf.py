"""Decode the protobuf request bodies kubectl 1.32 sends into the dicts their JSON would give.

kubectl's typed clients (``create <kind>``, ``create token``, ``auth whoami``, ``auth can-i``)
post ``application/vnd.kubernetes.protobuf`` bodies. The sandbox stores JSON-shaped dicts, so it
needs the same object kubectl would have sent as JSON.
``kgate.sandbox.protoschema`` carries a *partial* schema — the field numbers of Kubernetes'
``generated.proto`` for the kinds above, checked against real captures in ``tests/sandbox/data``
— and this module maps each message to JSON the way Go does:

* Go's protobuf encoder writes every non-pointer field, zero or not; ``encoding/json`` omits zero
  scalars (``omitempty``) but always writes structs. So zero scalars are dropped, present messages
  become dicts (even empty: ``resources: {}``, ``status: {}``), and the few pointer scalars whose
  zero is meaningful (``replicas: 0``, ``immutable: false``) are marked ``keep_zero``. A slice or
  pointer without ``omitempty`` (``TokenRequestSpec.audiences``) is JSON ``null`` when absent:
  those are marked ``null``.
* ``bytes`` values (Secret ``data``, ConfigMap ``binaryData``) become base64 text; maps are
  repeated entry messages (1 key, 2 value); a zero ``metav1.Time`` becomes ``null``;
  ``resource.Quantity`` becomes its string; ``IntOrString`` becomes an int or a string.
* A field the schema does not know is ignored only if it carries the zero value; anything else
  raises ``ValueError`` so the server refuses the body instead of silently dropping data.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from kgate.protowire import (
    FIXED32,
    FIXED64,
    LEN,
    VARINT,
    FieldValue,
    as_bytes,
    as_int,
    as_str,
    iter_fields,
    read_envelope,
    read_map_entry,
)
from kgate.sandbox.protoschema import ROOTS, SCHEMA, F


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a ``k8s\\0``-enveloped protobuf body into the object's JSON-shaped dict.

    Raises ``ValueError`` for a malformed body, a kind this module has no schema for, or a
    field it does not know that carries a value.
    """
    env = read_envelope(body)
    if env.content_encoding:
        raise ValueError(f"protobuf: unsupported contentEncoding {env.content_encoding!r}")
    root = ROOTS.get((env.api_version, env.kind))
    if root is None:
        raise ValueError(f"protobuf: no schema for {env.api_version} {env.kind}")
    obj: dict[str, Any] = {"kind": env.kind, "apiVersion": env.api_version}
    obj.update(decode_message(env.raw, root))
    return obj


def decode_message(raw: bytes | memoryview, message: str) -> dict[str, Any]:
    """Decode one message of the schema into a dict (see the module docstring for the rules)."""
    fields = SCHEMA[message]
    out: dict[str, Any] = {}
    for number, wire, value in iter_fields(raw):
        spec = fields.get(number)
        if spec is None:
            if _is_zero(wire, value):
                continue
            raise ValueError(f"protobuf: {message} field {number} is not supported")
        _decode_field(out, spec, value)
    for spec in fields.values():
        if spec.null and spec.name not in out:
            out[spec.name] = None
    return out


def _is_zero(wire: int, value: FieldValue) -> bool:
    if wire == LEN:
        return len(as_bytes(value)) == 0
    return wire in (VARINT, FIXED32, FIXED64) and value == 0


def _decode_field(out: dict[str, Any], spec: F, value: FieldValue) -> None:
    kind = spec.kind
    if kind == "map":
        key, item = read_map_entry(value)
        out.setdefault(spec.name, {})[key] = _scalar(spec.ref, item)
        return
    if kind == "inline":
        out.update(decode_message(as_bytes(value), spec.ref))
        return
    if kind == "msg":
        decoded: Any = decode_message(as_bytes(value), spec.ref)
    elif kind == "time":
        decoded = _time(as_bytes(value))
    else:
        decoded = _scalar(kind, value)
        if not spec.repeated and not spec.keep_zero and decoded in ("", 0, False):
            return
    if spec.repeated:
        out.setdefault(spec.name, []).append(decoded)
    else:
        out[spec.name] = decoded


def _scalar(kind: str, value: FieldValue) -> Any:
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
        fields = {n: v for n, _w, v in iter_fields(as_bytes(value))}
        return as_str(fields[1]) if 1 in fields else "0"
    if kind == "intstr":
        return _intstr(as_bytes(value))
    if kind == "strings":       # a message of one repeated string (authentication ExtraValue)
        return [as_str(v) for n, _w, v in iter_fields(as_bytes(value)) if n == 1]
    raise ValueError(f"protobuf: unknown field kind {kind}")


def _intstr(raw: memoryview) -> int | str:
    typ, int_val, str_val = 0, 0, ""
    for number, _wire, value in iter_fields(raw):
        if number == 1:
            typ = as_int(value)
        elif number == 2:
            int_val = _scalar("int", value)
        elif number == 3:
            str_val = as_str(value)
    return str_val if typ == 1 else int_val


def _time(raw: memoryview) -> str | None:
    seconds = 0
    for number, _wire, value in iter_fields(raw):
        if number == 1:
            seconds = _scalar("int", value)
    if seconds == 0:
        return None
    try:
        stamp = dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError) as e:
        raise ValueError("protobuf: timestamp out of range") from e
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
