"""Request bodies as they go into the session log: masked like responses, protobuf summarised.

A request body carries no ``kind`` for patches (``{"data": {"password": "…"}}``), so when the
caller does not say which kind the target is, kindless bodies are masked conservatively:
top-level ``data``/``stringData`` values are treated as Secret data. JSON patch operations mask
string values written under ``data``, ``stringData``, ``binaryData``, ``env`` or ``annotations``
and run the detectors on the rest. Protobuf is never decoded here: the log gets its size and
sha256.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import yaml

from .objects import ObjectMasker
from .placeholders import Placeholders, is_placeholder

PROTOBUF = "application/vnd.kubernetes.protobuf"
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SENSITIVE_PATH_PARTS = frozenset({"data", "stringData", "binaryData", "env", "annotations"})


def media_type(content_type: str) -> str:
    """The media type of a Content-Type header, lower case, without parameters: the one parser
    of request media types (the body stage, the body check and the log copy all use it).
    kube-apiserver reads a body without Content-Type as JSON; so does kgate."""
    return content_type.split(";", 1)[0].strip().lower() or "application/json"


def load_yaml(body: bytes) -> Any:
    """libyaml's safe loader: decodes escapes and folded lines as the server will, and fast."""
    return yaml.load(body, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader


def summary(body: bytes, **extra: Any) -> dict[str, Any]:
    """What the log keeps of a body it must not store: size and digest."""
    return {**extra, "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}


LogBody = str | dict[str, Any] | None
#: ``mask_for_log``'s ``document`` when the caller has not parsed the body.
UNPARSED: Any = object()


def mask_for_log(objects: ObjectMasker, placeholders: Placeholders, body: bytes,
                 content_type: str, kind: str | None = None,
                 document: Any = UNPARSED) -> tuple[LogBody, int]:
    """Masked, parsed body for the log: a dict for objects, compact JSON text for other JSON
    documents (JSON patch arrays), a summary dict for protobuf or anything unparseable.

    ``document``: the body already parsed by the body stage (REVIEW debt 6: parse once). It is
    copied, not masked in place — the same document is what gets forwarded.
    """
    if not body:
        return None, 0
    media = media_type(content_type)
    if media == PROTOBUF or body[:4] == b"k8s\x00":
        return summary(body, protobuf=True), 0
    try:
        if document is not UNPARSED:
            doc = orjson.loads(orjson.dumps(document)) if document is not None else None
        elif media.endswith("yaml"):
            doc = load_yaml(body)
        else:
            doc = orjson.loads(body)
    except (orjson.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError, TypeError,
            RecursionError):
        return summary(body, unparsed=True), 0
    if doc is None:
        return summary(body, unparsed=True), 0
    with objects.not_recording():
        return _mask_parsed(objects, placeholders, body, media, kind, doc)


def _mask_parsed(objects: ObjectMasker, placeholders: Placeholders, body: bytes, media: str,
                 kind: str | None, doc: Any) -> tuple[LogBody, int]:
    if media == "application/json-patch+json" and isinstance(doc, list):
        n = _json_patch(objects, placeholders, doc)
    elif isinstance(doc, dict):
        implied = kind or (doc.get("kind") if isinstance(doc.get("kind"), str) else None)
        if implied is None and ("data" in doc or "stringData" in doc):
            implied = "Secret"
        n = objects.document(doc, implied)
    else:
        n = objects.document(doc, kind)
    if isinstance(doc, dict):
        return doc, n
    try:
        return orjson.dumps(doc).decode(), n
    except TypeError:
        return summary(body, unparsed=True), n


def _json_patch(objects: ObjectMasker, placeholders: Placeholders, ops: list[Any]) -> int:
    n = 0
    for op in ops:
        if not isinstance(op, dict) or "value" not in op:
            continue
        segments = str(op.get("path", "")).split("/")
        value = op["value"]
        if isinstance(value, str):
            if is_placeholder(value) or not value:
                continue
            if "annotations" in segments[:-1]:
                key = segments[-1].replace("~1", "/").replace("~0", "~")
                holder = {"metadata": {"annotations": {key: value}}}
                k = objects.document(holder, "Object")
                op["value"] = holder["metadata"]["annotations"][key]
                n += k
            elif _SENSITIVE_PATH_PARTS.intersection(segments):
                op["value"] = placeholders.of_text(value)
                n += 1
            else:
                new, k = objects.text(value)
                if k:
                    op["value"] = new
                    n += k
        elif isinstance(value, dict):
            if segments[-1] in ("data", "stringData"):
                n += objects.document({"kind": "Secret", segments[-1]: value}, "Secret")
            elif segments[-1] == "annotations":
                n += objects.document({"metadata": {"annotations": value}}, "Object")
            else:
                n += objects.document(value, None)
        elif isinstance(value, list):
            n += objects.document(value, None)
    return n
