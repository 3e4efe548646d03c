"""The facts policy judges one request by, gathered from what the earlier stages found.

``gather_facts`` is the one place they are assembled: the pipeline calls it with the body it
read and inspected, ``kgate policy eval`` with a body from a file, so both decide alike. It reads
the fields ``body:`` rules need from protobuf bodies, runs the body check (placeholders written
back become a fact the ``no-placeholder-writes`` guardrail judges, or are restored where they
were read from), lists JSON-patch operations that read on the server (``no-secret-copy``) and
asks the masking stage whether a non-resource path describes the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kgate.policy import Facts
from kgate.policy.facts import dry_run_of
from kgate.proxy.attributes import RequestAttributes
from kgate.proxy.errors import BodyRefused
from kgate.proxy.stages.body import PROTOBUF, BodyFacts
from kgate.proxy.stages.masking import RequestBodyCheck, passes_unmasked
from kgate.proxy.stages.patchops import patch_reads


def gather_facts(attrs: RequestAttributes, headers: Sequence[tuple[str, str]],
                 body: bytes | None = None, inspected: BodyFacts | None = None,
                 content_type: str = "", body_check: RequestBodyCheck | None = None) -> Facts:
    """Everything policy may look at for one request (pure; ``body`` already inspected)."""
    document: Any = None
    complete = True
    placeholders: tuple[str, ...] = ()
    has_placeholders = False
    placeholder_message = ""
    restored: bytes | None = None
    secret_reads: tuple[str, ...] = ()
    if body and inspected is not None:
        if inspected.media_type == PROTOBUF:
            document, complete = inspected.proto_view, inspected.proto_complete
        else:
            document = inspected.document
        if body_check is not None:
            try:
                restored = body_check.check(attrs, content_type, body, inspected)
            except BodyRefused as err:
                has_placeholders, placeholders = True, tuple(err.fields)
                placeholder_message = str(err)
        secret_reads = patch_reads(inspected.media_type, inspected.document)
    return Facts(
        attrs=attrs, headers=tuple(headers), body=document, body_complete=complete,
        dry_run=dry_run_of(attrs, document, has_body=bool(body)), placeholder_fields=placeholders,
        has_placeholders=has_placeholders, placeholder_message=placeholder_message,
        describes_api=not attrs.is_resource and passes_unmasked(attrs),
        secret_copy=secret_reads, restored_body=restored,
    )
