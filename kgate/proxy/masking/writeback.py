"""Placeholders written back in a request body: restored at their own slot, refused elsewhere.

The check runs on the *decoded* document — what the API server will see — not on the bytes: a
YAML apply patch can spell a placeholder with ``\\x3a``, ``\\u006d`` or a folded line, a JSON
body with ``\\u`` escapes, and both decode to ``kgate:masked:…`` on the server. Every string and
every key of the document is checked for a placeholder in any form (raw or base64 at any
alignment, ``roundtrip.count_placeholders``); the raw bytes are scanned too, and a body whose bytes
hold more placeholders than its decoded strings is refused whole (fail closed).

A string that holds a placeholder is *restored* — replaced by the real string it stands for —
only when this session issued exactly that masked string at the same slot (``slots.py``) in the
same namespace; JSON patch ``test`` values, keys, ``path``/``from`` pointers, YAML ``!!binary``
values and anything else are refused and named. A restored body is forwarded as JSON (valid YAML
too, so an apply patch keeps its content type). If the document holds values JSON cannot carry
as the server would read them (YAML timestamps, binary, non-string keys), nothing is restored.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import orjson

from .roundtrip import count_placeholders
from .slots import IssuedValues, slot_of

_JSON_PATCH = "application/json-patch+json"


@dataclass
class WriteBack:
    """The verdict on one request body."""

    #: Placeholders found in the decoded document (or the bytes).
    found: int = 0
    #: Fields that carry a placeholder which may not be written there (→ 422).
    refused: list[str] = field(default_factory=list)
    #: The body to forward instead, when placeholders were restored; None = forward as is.
    body: bytes | None = None
    #: How many strings were restored.
    restored: int = 0


class _Walk:
    def __init__(self, issued: IssuedValues, kind: str | None, namespace: str) -> None:
        self.issued, self.kind, self.namespace = issued, kind, namespace
        self.found = 0
        self.refused: list[str] = []
        self.edits: list[tuple[dict[str, Any] | list[Any], Any, str, str]] = []
        self.exotic = False

    def node(self, node: Any, path: list[str], where: str, restorable: bool = True) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    self.exotic = True
                    key_text = str(key)
                else:
                    key_text = key
                sub = f"{where}.{key_text}" if where else key_text
                if self._count(key_text):
                    self.refused.append(sub)
                if isinstance(value, str):
                    self.string(node, key, value, [*path, key_text], sub, restorable)
                else:
                    self.node(value, [*path, key_text], sub, restorable)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                sub = f"{where}[{i}]"
                name = value.get("name") if isinstance(value, dict) else None
                seg = name if isinstance(name, str) else str(i)
                if isinstance(value, str):
                    self.string(node, i, value, [*path, seg], sub, restorable)
                else:
                    self.node(value, [*path, seg], sub, restorable)
        elif isinstance(node, bytes | bytearray):
            self.exotic = True
            if self._count(bytes(node).decode("latin-1")):
                self.refused.append(where)
        elif isinstance(node, datetime.date | set | tuple):
            self.exotic = True
        elif not isinstance(node, int | float | bool) and node is not None:
            self.exotic = True

    def string(self, holder: dict[str, Any] | list[Any], key: Any, value: str,
               path: list[str], where: str, restorable: bool) -> None:
        if not self._count(value):
            return
        original = self.issued.original(self.namespace, slot_of(self.kind, path), value) \
            if restorable else None
        if original is None:
            self.refused.append(where)
        else:
            self.edits.append((holder, key, original, value))

    def _count(self, text: str) -> int:
        n = count_placeholders(text.encode("utf-8", "surrogatepass"))
        self.found += n
        return n


def _pointer(path: str) -> list[str]:
    parts = path.split("/")[1:] if path.startswith("/") else []
    return [p.replace("~1", "/").replace("~0", "~") for p in parts]


def check_document(issued: IssuedValues, body: bytes, media_type: str, document: Any, *,
                   kind: str | None, namespace: str) -> WriteBack:
    """Judge (and maybe rewrite) one parsed request body; see the module docstring."""
    raw = count_placeholders(body, json_escapes=False)   # the walk below decodes them
    walk = _Walk(issued, kind, namespace)
    if media_type == _JSON_PATCH and isinstance(document, list):
        for i, op in enumerate(document):
            if not isinstance(op, dict):
                walk.node(op, [], f"[{i}]", restorable=False)
                continue
            for key in op:
                if key != "value":
                    walk.node({key: op[key]}, [], f"[{i}]", restorable=False)
            if "value" in op:
                base = _pointer(op["path"]) if isinstance(op.get("path"), str) else []
                restorable = op.get("op") in ("add", "replace")
                if isinstance(op["value"], str):
                    walk.string(op, "value", op["value"], base, f"[{i}].value", restorable)
                else:
                    walk.node(op["value"], base, f"[{i}].value", restorable)
    else:
        walk.node(document, [], "")
    result = WriteBack(found=walk.found, refused=walk.refused)
    if raw > walk.found:
        # the bytes hold placeholders the decoded document does not show where: refuse whole
        result.found = raw
        result.refused.append("(body)")
    if result.refused or not walk.edits:
        return result   # a refused body restores nothing
    if walk.exotic:
        result.refused.append("(body: cannot be re-encoded as JSON to restore masked values)")
        return result
    for holder, key, original, _ in walk.edits:
        holder[key] = original
    try:
        new_body = orjson.dumps(document)
    except TypeError:
        new_body = b""
    finally:
        for holder, key, _, masked in walk.edits:
            holder[key] = masked
    if not new_body or count_placeholders(new_body):
        result.refused.append("(body)")
        return result
    result.body, result.restored = new_body, len(walk.edits)
    return result

