"""The mask stage: what must be masked, the interface a masker implements, and the engine's adapter.

Masked: responses to resource requests with JSON bodies (objects, Lists, Tables, Status, watch
events), pod logs, and exec/attach output. Not masked: discovery, OpenAPI, ``/version`` and health
endpoints. A masker that cannot parse what it must mask raises ``MaskingFailed``; the pipeline
then answers 502 and nothing unmasked reaches the agent. Request bodies go the other way: a body
that writes a placeholder back is refused (``BodyRefused`` → 422), and the copy of a body that the
session log keeps is masked like a response.

A big List or Table can be masked piece by piece rather than whole (``mask_stream``): the pipeline
sends each piece as it is done, and cuts the connection if a later piece cannot be masked.

Stream maskers receive arbitrary chunk boundaries (a watch event or a log line may be split across
chunks) and hold back what they cannot decide yet; ``flush`` returns what remains at the end.
``EngineMasker`` adapts the pure engine in ``kgate.proxy.masking`` to these interfaces; it is the
default for every proxy run, with a fresh random placeholder key per session.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, Protocol

from kgate.proxy.attributes import RequestAttributes
from kgate.proxy.engine import Frame, FrameMasker
from kgate.proxy.errors import BodyRefused, MaskingFailed, Refusal
from kgate.proxy.masking import (
    ChunkMasker,
    Masker,
    MaskingError,
    MaskingSettings,
)
from kgate.proxy.masking import FrameMasker as EngineFrames
from kgate.proxy.masking.catalogue import key_is_sensitive
from kgate.proxy.masking.masker import AsIs, MaskedBatches
from kgate.proxy.masking.primed import env_secret_values, secret_values
from kgate.proxy.masking.protobody import check_protobuf
from kgate.proxy.masking.roundtrip import count_placeholders
from kgate.proxy.stages.body import PROTOBUF, BodyFacts, inspect_body

_UNMASKED_EXACT = frozenset({"/version", "/api", "/apis", "/.well-known/openid-configuration",
                             "/openid/v1/jwks"})
_UNMASKED_TREES = ("/openapi/", "/healthz", "/livez", "/readyz")


def passes_unmasked(attrs: RequestAttributes) -> bool:
    """True for the non-resource paths whose replies describe the API, not the cluster's data.

    Every other non-resource path (``/logs``, ``/metrics``, ``/debug/…``, an aggregated API's
    own extras) is refused: kgate cannot know what it returns, so it cannot mask it.
    """
    if attrs.is_resource:
        return False
    path = attrs.path
    if path in _UNMASKED_EXACT or path.startswith(_UNMASKED_TREES) or path == "/openapi":
        return True
    parts = path.strip("/").split("/")
    # Discovery: /api/v1, /apis/GROUP, /apis/GROUP/VERSION.
    return (parts[0] == "api" and len(parts) == 2) or (parts[0] == "apis" and len(parts) <= 3)


class StreamMasker(Protocol):
    """Masks one streamed body (watch events or log text) chunk by chunk."""

    @property
    def masked(self) -> int: ...

    def feed(self, chunk: bytes) -> bytes: ...

    def flush(self) -> bytes:
        """End of stream: the rest, masked (``MaskingFailed`` if it is truncated)."""
        ...


class BodyStream(Protocol):
    """A whole body masked piece by piece (a big List or Table): ``next`` gives the next piece
    of the masked body, ``StopIteration`` at its end, ``MaskingFailed`` if it cannot be masked
    (what was handed out before is then an incomplete document). Steps may be slow: the
    pipeline runs each on the masking thread, one at a time."""

    @property
    def masked(self) -> int: ...

    def __next__(self) -> bytes: ...


class ResponseMasker(Protocol):
    def mask_body(self, attrs: RequestAttributes, body: bytes) -> tuple[bytes, int]:
        """Mask a whole JSON body; return it and how many values were masked.

        Big bodies are masked on a worker thread while the event loop goes on masking others
        (``pipeline.OFF_LOOP_MIN``): implementations must be safe to call from two threads.
        Stream maskers' ``feed``/``flush`` may likewise run on the worker (one call at a time).
        """
        ...

    def mask_stream(self, attrs: RequestAttributes, body: bytes) -> BodyStream | None:
        """``mask_body``'s masking handed out in pieces as they are done, for bodies big enough
        to be worth streaming (a multi-MB List); ``None``: mask this one with ``mask_body``.

        Called on the masking thread (the body is then at least ``pipeline.OFF_LOOP_MIN``),
        which also runs every step of the stream it returns. It may do the expensive part of
        the work here or in the steps; ``MaskingFailed`` from either.
        """
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

    def learn(self, body: bytes) -> None:
        """Remember the secret values in a JSON object (a pod, a Secret) so that they are masked
        even as bare text in logs and exec output; ``MaskingFailed`` if it is not JSON."""
        ...

    def prime(self, pod: Any, secrets: list[Any]) -> Primed:
        """Before a pod's output is relayed: recognise every value of the (parsed) Secrets it
        references, and its secret-named env values, as bare text until ``release``."""
        ...


class Primed(Protocol):
    """Values learned for one stream (pod logs, exec/attach), kept until ``release``."""

    def release(self) -> None: ...


class RequestBodyCheck(Protocol):
    def check(self, attrs: RequestAttributes, content_type: str, body: bytes,
              facts: BodyFacts | None = None) -> bytes | None:
        """Raise ``BodyRefused`` for a body that must not be sent (answered 422); return a
        rewritten body to forward instead (placeholders restored), or ``None`` to send ``body``.
        ``facts`` carries the document the body stage already parsed."""
        ...

    def log_copy(self, attrs: RequestAttributes, content_type: str, body: bytes,
                 facts: BodyFacts | None = None) -> Any:
        """What the session log may keep of ``body``: masked, or a summary (protobuf)."""
        ...


class _Chunks:
    """An engine chunk masker with the engine's errors turned into ``MaskingFailed``."""

    def __init__(self, inner: ChunkMasker) -> None:
        self._inner = inner

    @property
    def masked(self) -> int:
        return self._inner.masked

    def feed(self, chunk: bytes) -> bytes:
        try:
            return self._inner.feed(chunk)
        except MaskingError as err:
            raise MaskingFailed(str(err)) from None

    def flush(self) -> bytes:
        try:
            return self._inner.close()
        except MaskingError as err:
            raise MaskingFailed(str(err)) from None


class _Batches:
    """The engine's batches of a big List, with its errors turned into ``MaskingFailed``."""

    def __init__(self, inner: MaskedBatches | AsIs) -> None:
        self._inner = inner

    @property
    def masked(self) -> int:
        return self._inner.masked

    def __next__(self) -> bytes:
        try:
            return next(self._inner)
        except MaskingError as err:
            raise MaskingFailed(str(err)) from None


class _Frames:
    """The engine's frame masker, speaking (channel, payload) pairs.

    Before a frame of any other channel (notably 3, the exit status) goes out, held output is
    flushed: kubectl stops reading once it has the status, so stdout must be out first.
    """

    def __init__(self, inner: EngineFrames) -> None:
        self._inner = inner

    @property
    def masked(self) -> int:
        return self._inner.masked

    def feed(self, channel: int, payload: bytes) -> list[Frame]:
        frame = bytes([channel]) + payload
        if channel in (EngineFrames.STDOUT, EngineFrames.STDERR):
            return _pairs(self._inner.feed(frame))
        return _pairs(self._inner.flush() + self._inner.feed(frame))

    def flush(self) -> list[Frame]:
        return _pairs(self._inner.flush())


def _pairs(frames: list[bytes]) -> list[Frame]:
    return [(f[0], f[1:]) for f in frames if f]


class EngineMasker:
    """The masking engine behind the pipeline's mask and body-check seams, for one session."""

    def __init__(self, settings: MaskingSettings | None = None, key: bytes | None = None) -> None:
        # The key is random per session and never leaves this process: placeholders cannot be
        # linked across sessions or reversed by the agent.
        settings = settings or MaskingSettings()
        self.engine = Masker(settings, key or secrets.token_bytes(32))
        self._env_names = re.compile(settings.secret_env_names)

    def mask_body(self, attrs: RequestAttributes, body: bytes) -> tuple[bytes, int]:
        try:
            result = self.engine.mask_json(body)
        except MaskingError as err:
            raise MaskingFailed(str(err)) from None
        return result.body, result.masked

    def mask_stream(self, attrs: RequestAttributes, body: bytes) -> BodyStream | None:
        try:
            batches = self.engine.mask_json_stream(body)
        except MaskingError as err:
            raise MaskingFailed(str(err)) from None
        return _Batches(batches) if batches is not None else None

    def watch_stream(self, attrs: RequestAttributes) -> StreamMasker:
        return _Chunks(self.engine.watch_stream())

    def text_stream(self, attrs: RequestAttributes) -> StreamMasker:
        return _Chunks(self.engine.text_stream())

    def exec_frames(self, attrs: RequestAttributes) -> FrameMasker | None:
        if attrs.subresource == "portforward":
            return None  # forwarded TCP bytes are the app's own protocol, not text to scan
        return _Frames(self.engine.exec_stream())

    def learn(self, body: bytes) -> None:
        try:
            self.engine.learn(body)
        except MaskingError as err:
            raise MaskingFailed(str(err)) from None

    def prime(self, pod: Any, secrets: list[Any]) -> Primed:
        values = env_secret_values(pod, self._env_is_secret)
        for secret in secrets:
            values += secret_values(secret)
        # Decoded the way the stream maskers decode output, so binary values match too.
        return self.engine.known.pin(v.decode("utf-8", "surrogateescape") for v in values)

    def _env_is_secret(self, name: str) -> bool:
        return key_is_sensitive(name) or self._env_names.search(name) is not None

    def check(self, attrs: RequestAttributes, content_type: str, body: bytes,
              facts: BodyFacts | None = None) -> bytes | None:
        """Placeholders written back: restored at the slot they were issued for (the rewritten
        body is returned), refused anywhere else. JSON and YAML bodies are judged on the
        document the body stage parsed (what the server will decode); a protobuf body that
        carries a placeholder is transcoded to JSON and judged the same way (``protobody``),
        so a rewritten body is always JSON."""
        if facts is None:
            try:
                facts = inspect_body(content_type, None, body)
            except Refusal:
                facts = None   # unreadable: only the bytes can be judged
        if facts is None:
            found = count_placeholders(body)
            if found:
                raise BodyRefused([], _refusal_message(found))
            return None
        kind = _target_kind(attrs, facts)
        namespace = attrs.namespace or facts.namespace
        if facts.media_type == PROTOBUF:
            verdict = check_protobuf(self.engine.issued, body, kind=kind, namespace=namespace)
        else:
            verdict = self.engine.check_write_back(body, facts.media_type, facts.document,
                                                   kind=kind, namespace=namespace)
        if verdict.refused:
            reasons = [f[7:-1] for f in verdict.refused if f.startswith("(body: ")]
            raise BodyRefused([f for f in verdict.refused if not f.startswith("(")],
                              _refusal_message(verdict.found, reasons))
        return verdict.body

    def log_copy(self, attrs: RequestAttributes, content_type: str, body: bytes,
                 facts: BodyFacts | None = None) -> Any:
        kind = "Secret" if attrs.resource == "secrets" and attrs.api_group == "" else None
        if facts is not None and facts.document is not None:
            copy, _ = self.engine.mask_request_body_for_log(body, content_type, kind=kind,
                                                            document=facts.document)
        else:
            copy, _ = self.engine.mask_request_body_for_log(body, content_type, kind=kind)
        return copy


def _refusal_message(found: int, reasons: list[str] | None = None) -> str:
    why = f" ({'; '.join(reasons)})" if reasons else ""
    return (f"the request body contains {found} masked placeholder(s) (kgate:masked:…) "
            f"where they cannot be restored{why}; writing them would overwrite the real "
            "values. Send only the fields you mean to change, without masked values (a masked "
            "value is only restored when written back to the field and namespace it was read "
            "from)")


#: The kind a request writes, for the resources whose slots depend on it (``slots.slot_of``).
_KINDS = {"pods": "Pod", "secrets": "Secret", "configmaps": "ConfigMap",
          "deployments": "Deployment", "replicasets": "ReplicaSet", "statefulsets": "StatefulSet",
          "daemonsets": "DaemonSet", "jobs": "Job", "cronjobs": "CronJob",
          "podtemplates": "PodTemplate", "controllerrevisions": "ControllerRevision"}


def _target_kind(attrs: RequestAttributes, facts: BodyFacts | None) -> str | None:
    if attrs.subresource:
        return None   # a subresource write (ephemeralcontainers, status…) is its own place
    if facts is not None and facts.kind:
        return facts.kind
    return _KINDS.get(attrs.resource or "", attrs.resource)
