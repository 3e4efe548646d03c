"""The masking seam: what must be masked, and the interface a masker implements.

Masked: responses to resource requests with JSON bodies (objects, Lists, Tables, Status, watch
events), pod logs, and exec/attach output. Not masked: discovery, OpenAPI, ``/version`` and health
endpoints. A masker that cannot parse what it must mask raises ``MaskingFailed``; the pipeline
then answers 502 and nothing unmasked reaches the agent. ``PassThrough`` is today's
implementation; the masking engine (``kgate.proxy.masking``) replaces it without pipeline changes.

Stream maskers receive arbitrary chunk boundaries (a watch event or a log line may be split across
chunks) and must buffer what they cannot decide yet; ``flush`` returns what remains at the end.
"""

from __future__ import annotations

from typing import Protocol

from kgate.proxy.attributes import RequestAttributes


class StreamMasker(Protocol):
    """Masks one streamed body (watch events or log text) chunk by chunk."""

    def feed(self, chunk: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


class FrameMasker(Protocol):
    """Masks exec/attach output per channel (1 stdout, 2 stderr, 3 error)."""

    def feed(self, channel: int, payload: bytes) -> bytes: ...

    def flush(self, channel: int) -> bytes: ...


class ResponseMasker(Protocol):
    def mask_body(self, attrs: RequestAttributes, body: bytes) -> bytes:
        """Mask a whole JSON body (object, List, Table, Status); raise ``MaskingFailed``."""
        ...

    def watch_stream(self, attrs: RequestAttributes) -> StreamMasker:
        """A masker for newline-delimited JSON watch events."""
        ...

    def text_stream(self, attrs: RequestAttributes) -> StreamMasker:
        """A masker for a streamed text body (pod logs)."""
        ...

    def exec_frames(self, attrs: RequestAttributes) -> FrameMasker | None:
        """A masker for exec/attach output, or ``None`` if output needs no masking.

        ``None`` also allows the SPDY fallback, whose raw bytes kgate cannot split into frames;
        with a masker, SPDY exec/attach is refused rather than relayed unmasked.
        """
        ...


class RequestBodyCheck(Protocol):
    def check(self, attrs: RequestAttributes, content_type: str, body: bytes) -> None:
        """Raise ``BodyRefused`` for a body that must not be sent (answered 422)."""
        ...


class _Identity:
    def feed(self, chunk: bytes) -> bytes:
        return chunk

    def flush(self) -> bytes:
        return b""


class IdentityFrames:
    """Frames pass unchanged (used when the masker has nothing to mask in exec output)."""

    def feed(self, channel: int, payload: bytes) -> bytes:
        return payload

    def flush(self, channel: int) -> bytes:
        return b""


class PassThrough:
    """Masks nothing and refuses nothing: the placeholder until the masking engine lands."""

    def mask_body(self, attrs: RequestAttributes, body: bytes) -> bytes:
        return body

    def watch_stream(self, attrs: RequestAttributes) -> StreamMasker:
        return _Identity()

    def text_stream(self, attrs: RequestAttributes) -> StreamMasker:
        return _Identity()

    def exec_frames(self, attrs: RequestAttributes) -> FrameMasker | None:
        return None

    def check(self, attrs: RequestAttributes, content_type: str, body: bytes) -> None:
        return None
