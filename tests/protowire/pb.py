"""A tiny protobuf writer for tests: Kubernetes bodies built field by field, exactly as given
(so a test can add an unknown field, a wrong wire type or a truncated length on purpose)."""

from __future__ import annotations

from kgate.protowire import MAGIC


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def ld(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field."""
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def vi(number: int, value: int) -> bytes:
    """A varint field."""
    return varint(number << 3) + varint(value)


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return MAGIC + ld(1, ld(1, api_version) + ld(2, kind)) + ld(2, raw)


def pod(name: str, namespace: str, env: dict[str, str], *, annotations: dict[str, str] | None
        = None, container: str = "app", spec_extra: bytes = b"",
        container_extra: bytes = b"") -> bytes:
    """A v1 Pod with one container whose env literals are ``env``."""
    meta = ld(1, name) + ld(3, namespace) + b"".join(
        ld(12, ld(1, k) + ld(2, v)) for k, v in (annotations or {}).items())
    envs = b"".join(ld(7, ld(1, k) + ld(2, v)) for k, v in env.items())
    spec = ld(2, ld(1, container) + ld(2, "busybox:1.36") + envs + container_extra) + spec_extra
    return envelope("v1", "Pod", ld(1, meta) + ld(2, spec))
