"""Placeholders written back in a protobuf request body: transcoded to JSON, then restored.

kubectl 1.32 posts ``create job --from=cronjob/X`` and ``debug --copy-to`` as protobuf
(``application/vnd.kubernetes.protobuf``). Both copy an object the agent read masked, so the body
carries placeholders, and kgate cannot rewrite strings inside protobuf. A body that carries one
is therefore decoded with the schema (``kgate.protojson``, strict), judged and restored like a
JSON body (``writeback.check_document``), and forwarded as ``application/json`` — the API server
reads both; the object it builds is the same.

Fail closed: a body whose kind kgate has no schema for, or that holds anything the schema does
not know (an unknown field number, a value of the wrong wire type, a malformed length), is
refused whole — transcoding it would drop data the agent sent. So is a body whose bytes hold
more placeholders than its decoded document shows. A protobuf body without any placeholder is
not decoded at all: it is forwarded as it came.
"""

from __future__ import annotations

import orjson

from kgate.protojson import decode_object

from .roundtrip import count_placeholders
from .slots import IssuedValues
from .writeback import WriteBack, check_document

JSON = "application/json"


def check_protobuf(issued: IssuedValues, body: bytes, *, kind: str | None,
                   namespace: str) -> WriteBack:
    """Judge a protobuf request body; ``WriteBack.body`` is JSON when placeholders were restored.

    ``kind`` is the target's kind as the request names it (``None`` for a subresource write);
    ``namespace`` the request's namespace.
    """
    raw = count_placeholders(body, json_escapes=False)   # protobuf strings have no escapes
    if not raw:
        return WriteBack()
    try:
        document = decode_object(body, strict=True)
    except (ValueError, RecursionError) as err:
        return WriteBack(found=raw, refused=[f"(body: {_reason(err)})"])
    verdict = check_document(issued, orjson.dumps(document), JSON, document, kind=kind,
                             namespace=namespace)
    if raw > verdict.found:
        verdict.found = raw
        verdict.refused.append("(body: placeholders outside the decoded fields)")
        verdict.body, verdict.restored = None, 0
    return verdict


def _reason(err: BaseException) -> str:
    """Why a body could not be transcoded; the decoder's messages name fields, never values."""
    if isinstance(err, RecursionError):
        return "a protobuf body nested too deeply"
    text = str(err)
    text = text.removeprefix("protobuf: ")
    return f"a protobuf body kgate cannot transcode to JSON ({text[:120]})"
