"""What policy evaluation sees of one request: attributes, headers, the body as an object.

``Facts`` is plain data gathered once per request (by ``kgate.proxy.stages.policy.gather_facts``
for both the proxy and ``kgate policy eval``) and judged by pure functions. For protobuf bodies,
which kubectl 1.32 sends for ``create secret`` and friends, ``protobuf_document`` reads the few
fields rules and guardrails look at with the schema-less wire reader; for a kind it has no
fields for, the document holds only apiVersion/kind/metadata and ``body_complete`` is False, so
``body:`` rules can fail closed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kgate.protowire import (
    as_bytes,
    as_str,
    iter_fields,
    peek_metadata,
    read_envelope,
)
from kgate.proxy.attributes import RequestAttributes


@dataclass(frozen=True)
class Facts:
    attrs: RequestAttributes
    headers: tuple[tuple[str, str], ...] = ()
    #: The request object (parsed JSON/YAML, or read from protobuf); None without a body.
    body: Any = None
    #: False when the body is protobuf of a kind whose fields kgate cannot read.
    body_complete: bool = True
    #: ``dryRun`` in the query, or in a DeleteOptions body.
    dry_run: bool = False
    #: Fields of the body that carry a masked placeholder (``no-placeholder-writes``).
    placeholder_fields: tuple[str, ...] = ()
    #: Whether the body carried placeholders at all (also when their fields cannot be named),
    #: and what the body check said about them.
    has_placeholders: bool = False
    placeholder_message: str = ""
    #: For a non-resource path: True if its reply describes the API and needs no masking.
    describes_api: bool = False
    #: JSON-patch operations that would make the API server read a field kgate cannot show
    #: (``copy``/``move`` ``from``, ``test`` ``path``): ``no-secret-copy``.
    secret_copy: tuple[str, ...] = ()
    #: The body to forward instead, when the body check restored placeholders the agent wrote
    #: back to the very field and namespace they were read from (None: forward it as sent).
    restored_body: bytes | None = None

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


def dry_run_of(attrs: RequestAttributes, body: Any, has_body: bool | None = None) -> bool:
    """Whether the API server will treat the request as a dry run.

    For delete and deletecollection kube-apiserver reads DeleteOptions from the body when there
    is one and then ignores the query entirely, so ``DELETE …?dryRun=All`` with a body that does
    not say ``dryRun`` really deletes: only the body counts then (an unreadable body: not a dry
    run). Everything else takes ``dryRun`` from the query.
    """
    if has_body is None:
        has_body = body is not None
    if attrs.verb in ("delete", "deletecollection") and has_body:
        value = body.get("dryRun") if isinstance(body, dict) else None
        return isinstance(value, list) and value == ["All"]
    return attrs.dry_run


def _secret(raw: memoryview, doc: dict[str, Any]) -> None:
    for number, _wire, value in iter_fields(raw):
        if number == 3:  # Secret.type
            doc["type"] = as_str(value)


def _subject(raw: memoryview) -> dict[str, str]:
    keys = {1: "kind", 2: "apiGroup", 3: "name", 4: "namespace"}
    return {keys[n]: as_str(v) for n, _w, v in iter_fields(raw) if n in keys}


def _binding(raw: memoryview, doc: dict[str, Any]) -> None:
    subjects: list[dict[str, str]] = []
    for number, _wire, value in iter_fields(raw):
        if number == 2:
            subjects.append(_subject(as_bytes(value)))
        elif number == 3:  # RoleRef: 1 apiGroup, 2 kind, 3 name
            keys = {1: "apiGroup", 2: "kind", 3: "name"}
            doc["roleRef"] = {keys[n]: as_str(v) for n, _w, v in iter_fields(as_bytes(value))
                              if n in keys}
    doc["subjects"] = subjects


def _role(raw: memoryview, doc: dict[str, Any]) -> None:
    rules: list[dict[str, list[str]]] = []
    keys = {1: "verbs", 2: "apiGroups", 3: "resources", 4: "resourceNames",
            5: "nonResourceURLs"}
    for number, _wire, value in iter_fields(raw):
        if number == 2:
            rule: dict[str, list[str]] = {}
            for n, _w, v in iter_fields(as_bytes(value)):
                if n in keys:
                    rule.setdefault(keys[n], []).append(as_str(v))
            rules.append(rule)
    doc["rules"] = rules


_READERS: dict[str, Callable[[memoryview, dict[str, Any]], None]] = {
    "Secret": _secret,
    "RoleBinding": _binding, "ClusterRoleBinding": _binding,
    "Role": _role, "ClusterRole": _role,
}


def protobuf_document(body: bytes) -> tuple[dict[str, Any], bool]:
    """The object a protobuf body carries, as far as policy needs it, and whether that is all.

    Raises ``ValueError`` for a malformed body (the body stage refuses those earlier).
    """
    envelope = read_envelope(body)
    ref = peek_metadata(envelope.raw)
    meta: dict[str, Any] = {}
    for key, value in (("name", ref.name), ("generateName", ref.generate_name),
                       ("namespace", ref.namespace)):
        if value:
            meta[key] = value
    if ref.labels:
        meta["labels"] = dict(ref.labels)
    if ref.annotations:
        meta["annotations"] = dict(ref.annotations)
    doc: dict[str, Any] = {"apiVersion": envelope.api_version, "kind": envelope.kind,
                           "metadata": meta}
    reader = _READERS.get(envelope.kind)
    if reader is None:
        return doc, False
    reader(memoryview(envelope.raw), doc)
    return doc, True
