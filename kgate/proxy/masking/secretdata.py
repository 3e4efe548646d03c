"""Pure helpers about Secrets for the object walker: what counts as a Secret without a kind,
which ``data`` values are public certificates, and a Secret without its values (pre-check)."""

from __future__ import annotations

import binascii
import re
from typing import Any

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*([A-Za-z0-9+/=\s]+?)-----END \1-----")


def secret_remainder(doc: Any, kind: str | None) -> dict[str, Any] | None:
    """A Secret (or a watch event of one) without its values and last-applied annotation, for
    the pre-check; None for anything else."""
    if not isinstance(doc, dict):
        return None
    obj, wrapper = doc, None
    if "object" in doc and "metadata" not in doc and isinstance(doc.get("object"), dict):
        obj, wrapper, kind = doc["object"], doc, None
    k = obj.get("kind")
    if not isinstance(k, str):
        k = kind
    if not (k == "Secret" or (k is None and looks_like_secret(obj))):
        return None
    rest = {key: v for key, v in obj.items() if key not in ("data", "stringData", "metadata")}
    rest["_keys"] = [list(v) for v in (obj.get("data"), obj.get("stringData"))
                     if isinstance(v, dict)]
    md = obj.get("metadata")
    if isinstance(md, dict):
        ann = md.get("annotations")
        if isinstance(ann, dict) and LAST_APPLIED in ann:
            md = {**md, "annotations": {a: v for a, v in ann.items() if a != LAST_APPLIED}}
        rest["metadata"] = md
    if wrapper is not None:
        rest["_event"] = {key: v for key, v in wrapper.items() if key != "object"}
    return rest


def looks_like_secret(o: dict[str, Any]) -> bool:
    return isinstance(o.get("type"), str) and (
        isinstance(o.get("data"), dict) or isinstance(o.get("stringData"), dict)
    )


def public_certificates(value: str) -> bool:
    try:
        text = binascii.a2b_base64(value, strict_mode=True).decode("ascii")
    except (binascii.Error, ValueError):
        return False
    if "PRIVATE" in text or "-----BEGIN CERTIFICATE-----" not in text:
        return False
    blocks = list(_PEM_BLOCK.finditer(text))
    if not blocks or _PEM_BLOCK.sub("", text).strip():
        return False   # something besides certificate blocks
    for m in blocks:
        if m.group(1) != "CERTIFICATE":
            return False
        try:
            der = binascii.a2b_base64("".join(m.group(2).split()), strict_mode=True)
        except (binascii.Error, ValueError):
            return False
        if not der.startswith(b"\x30"):
            return False   # not a DER SEQUENCE: not a certificate, just shaped like one
    return True

