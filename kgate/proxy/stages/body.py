"""What a request body is, read before it is forwarded (pure).

kgate only forwards bodies it can inspect: JSON (and the JSON patch types), YAML apply patches and
kubectl's protobuf envelopes. For each it learns the object's kind, name and namespace — from a
protobuf body with the schema-less wire reader, since kubectl 1.32 sends ``create secret`` and
friends as protobuf — and a sha256 that a held request can later be matched on. A body that
cannot be read, or that arrives compressed, is refused: policy and masking cannot judge it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from kgate.policy.facts import protobuf_document
from kgate.proxy.errors import Refusal
from kgate.proxy.masking.request_bodies import PROTOBUF, load_yaml, media_type

_JSON_TYPES = frozenset({"application/json", "application/merge-patch+json",
                         "application/strategic-merge-patch+json", "application/json-patch+json"})
_YAML_TYPES = frozenset({"application/apply-patch+yaml", "application/yaml"})


@dataclass(frozen=True)
class BodyFacts:
    """The request body as policy and the session log see it (never its values)."""

    media_type: str
    sha256: str
    size: int
    api_version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    #: The parsed JSON/YAML document (None for protobuf): parsed once here, passed on to the
    #: body checks and the log copy instead of being parsed again.
    document: Any = field(default=None, compare=False, repr=False)
    #: For protobuf: what policy reads of the object (``protobuf_document``), read once here,
    #: and whether that is the whole object (False for kinds policy has no reader for).
    proto_view: Any = field(default=None, compare=False, repr=False)
    proto_complete: bool = field(default=True, compare=False, repr=False)


def inspect_body(content_type: str, content_encoding: str | None, body: bytes) -> BodyFacts:
    """Read kind/name/namespace from ``body``; raise ``Refusal`` if it cannot be inspected."""
    if content_encoding and content_encoding.strip().lower() != "identity":
        raise Refusal(415, f"request bodies with Content-Encoding {content_encoding!r} cannot "
                           "be inspected; send the body uncompressed")
    media = media_type(content_type)
    digest = hashlib.sha256(body).hexdigest()
    if media == PROTOBUF:
        try:
            view, complete = protobuf_document(body)
        except ValueError as err:
            raise Refusal(400, f"could not read the protobuf request body ({err}); kgate "
                               "does not forward bodies it cannot inspect") from None
        meta = view["metadata"]
        return BodyFacts(media, digest, len(body), view["apiVersion"], view["kind"],
                         meta.get("name") or meta.get("generateName") or "",
                         meta.get("namespace") or "", proto_view=view, proto_complete=complete)
    if media in _JSON_TYPES:
        doc = _parse(media, body, orjson.loads, orjson.JSONDecodeError)
    elif media in _YAML_TYPES:
        doc = _parse(media, body, load_yaml, yaml.YAMLError)
    else:
        raise Refusal(415, f"request bodies of type {media or 'unknown'} cannot be inspected; "
                           "send JSON, YAML or Kubernetes protobuf")
    if not isinstance(doc, dict):
        # a JSON patch (list) names no object
        return BodyFacts(media, digest, len(body), document=doc)
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    return BodyFacts(media, digest, len(body), _str(doc.get("apiVersion")), _str(doc.get("kind")),
                     _str(meta.get("name")) or _str(meta.get("generateName")),
                     _str(meta.get("namespace")), document=doc)


def _parse(media: str, body: bytes, load: Any, error: type[Exception]) -> Any:
    try:
        return load(body)
    except (error, UnicodeDecodeError, RecursionError):
        raise Refusal(400, f"the {media} request body is not well-formed; kgate does not "
                           "forward bodies it cannot inspect") from None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
