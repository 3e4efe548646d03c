"""``Masker``: the one object the proxy holds per session to mask everything it relays.

It ties together the session's placeholder key, the detectors and the object walker, and hands
out fresh streaming maskers per response. Everything here is pure: bytes in, bytes out.

Threads: the proxy masks big bodies on a worker thread while the event loop goes on masking
small ones (``pipeline._deliver``). The walker and the detectors keep per-walk state, so each
thread gets its own (``_walker``); what the session has learned — secret values (``SeenValues``,
``KnownValues``), where placeholders were issued (``IssuedValues``), the placeholder cache — is
shared, and those classes guard their own updates.
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import msgspec

from .bulk import MaskedCollection, Parts, dumps, mask_collection, stream_collection
from .clean import CleanCheck
from .detectors import TextScanner, key_is_sensitive
from .hot import HotStrings
from .known import KnownValues
from .objects import ObjectMasker
from .placeholders import MaskingError, Placeholders
from .request_bodies import UNPARSED, mask_for_log
from .roundtrip import count_placeholders
from .seen import SeenValues
from .settings import MaskingSettings
from .slots import IssuedValues
from .streams import FrameMasker, LineMasker, WatchMasker
from .writeback import WriteBack, check_document

_PROTOBUF_MAGIC = b"k8s\x00"
_GC_LOCK = threading.Lock()
_GC_PAUSES = 0
_GC_WAS_ENABLED = False
#: Bodies below this size are not worth pausing the collector for.
_GC_PAUSE_MIN = 256 * 1024
#: Lists/Tables above this size are masked item by item (bounded memory).
_BULK_MIN = 1024 * 1024


@dataclass
class MaskResult:
    body: bytes
    masked: int  # number of values replaced


@contextmanager
def _collector_paused(size: int) -> Iterator[None]:
    """Pause the cyclic GC around a big parse: it otherwise rescans millions of fresh objects
    (~2× faster masking, DESIGN.md). Nested/threaded pauses are counted; the last one restores."""
    global _GC_PAUSES, _GC_WAS_ENABLED
    if size < _GC_PAUSE_MIN:
        yield
        return
    with _GC_LOCK:
        if _GC_PAUSES == 0:
            _GC_WAS_ENABLED = gc.isenabled()
            gc.disable()
        _GC_PAUSES += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_PAUSES -= 1
            if _GC_PAUSES == 0 and _GC_WAS_ENABLED:
                gc.enable()


_SKIP = msgspec.json.Decoder(msgspec.Raw)


def _valid(body: bytes) -> bool:
    """Syntactically valid JSON (msgspec's skip-parse: no objects built). The pre-check's
    reasoning holds for JSON only; anything else goes to ``_loads``, which refuses it."""
    try:
        _SKIP.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return False
    return True


def _loads(body: bytes) -> Any:
    # msgspec, not orjson, to parse: as fast, and it keeps integers beyond 64 bits exact where
    # orjson turns them into floats (a masked object must not change its other values).
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise MaskingError("response body is not valid JSON; refusing to pass it unmasked") \
            from None


class MaskedBatches:
    """``mask_json_stream``'s batches: each step pauses the collector (as ``mask_json`` does
    for the whole body) and hands what the walk learned to the session before returning, so
    no step leaves state behind for the next one (or another reply's) to find."""

    def __init__(self, inner: MaskedCollection, objects: ObjectMasker, size: int) -> None:
        self._inner = inner
        self._objects = objects
        self._size = size

    @property
    def masked(self) -> int:
        return self._inner.masked

    def __iter__(self) -> MaskedBatches:
        return self

    def __next__(self) -> bytes:
        with _collector_paused(self._size):
            try:
                return next(self._inner)
            except RecursionError:
                raise MaskingError("response body is nested too deeply to mask") from None
            finally:
                self._objects.flush_learned()


class AsIs:
    """``mask_json_stream`` of a body the raw-bytes check proved clean: the body, in one piece."""

    masked = 0

    def __init__(self, body: bytes) -> None:
        self._body: bytes | None = body

    def __iter__(self) -> AsIs:
        return self

    def __next__(self) -> bytes:
        body, self._body = self._body, None
        if body is None:
            raise StopIteration
        return body


class Masker:
    """Masks responses, streams and request-body log copies for one session.

    ``key`` is the session's random placeholder key (≥ 16 bytes; 32 recommended); it never
    leaves the process. Equal values → equal placeholders under one key, different keys →
    unrelated placeholders.
    """

    def __init__(self, settings: MaskingSettings, key: bytes) -> None:
        self.settings = settings
        self._ph = Placeholders(key)
        env_names = re.compile(settings.secret_env_names)
        self._known = KnownValues(
            lambda k: key_is_sensitive(k) or env_names.search(k) is not None)
        # Objects: detectors only (fast on big Lists; they *learn* known values as they go).
        # Streams (logs, exec): detectors plus the known values, for bare secrets in text.
        self._scanner = TextScanner(settings, self._ph)   # the constructing thread's walker's
        #: Where each placeholder was issued, for restoring routine write-backs (memory only).
        self.issued = IssuedValues()
        self._seen = SeenValues()
        self._hot = HotStrings(settings)
        self._walkers = threading.local()
        self._owner = threading.get_ident()

    @property
    def _objects(self) -> ObjectMasker:
        """This thread's walker (see the module docstring), over the session's shared state."""
        walker: ObjectMasker | None = getattr(self._walkers, "walker", None)
        if walker is None:
            settings = self.settings
            mine = threading.get_ident() == self._owner
            scanner = self._scanner if mine else TextScanner(settings, self._ph)
            walker = ObjectMasker(settings.secret_env_names, self._ph, scanner, self._known,
                                  seen=self._seen,
                                  issued=self.issued,
                                  show_certificates=settings.show_certificates, hot=self._hot)
            self._walkers.walker = walker
            self._walkers.clean = CleanCheck(settings, self._hot, scanner, self._seen)
        return walker

    @property
    def _stream_scanner(self) -> TextScanner:
        """This thread's scanner for streams (detectors plus known values): a log stream is
        masked on the event loop, or on the masking thread once its chunks proved slow."""
        scanner: TextScanner | None = getattr(self._walkers, "stream", None)
        if scanner is None:
            scanner = self._walkers.stream = TextScanner(self.settings, self._ph, self._known)
        return scanner

    @property
    def _clean(self) -> CleanCheck:
        """This thread's raw-bytes pre-check (``clean.py``), sharing the walker's scanner."""
        clean: CleanCheck | None = getattr(self._walkers, "clean", None)
        if clean is None:
            self._objects  # noqa: B018 - creates this thread's walker and its pre-check
            clean = self._walkers.clean
        return clean

    def _parts(self, clean: CleanCheck) -> Parts:
        """This thread's maskers of a big List's parts (``bulk``)."""
        objects = self._objects
        return Parts(objects.item, objects.row, learn=objects.learn_secrets,
                     envelope=objects.envelope, clean=clean.for_collection())

    @property
    def known(self) -> KnownValues:
        """The values this session recognises as bare text (priming pins values here)."""
        return self._known

    def placeholder(self, value: bytes | str) -> str:
        """``kgate:masked:<8 hex>`` for ``value``."""
        if isinstance(value, str):
            return self._ph.of_text(value)
        return self._ph.of_bytes(bytes(value))

    # -- whole bodies --------------------------------------------------------------------------

    def mask_json(self, body: bytes) -> MaskResult:
        """Mask any JSON response body.

        A body the raw-bytes check (``clean.py``) proves clean comes back byte-for-byte, not
        even parsed. Any other goes out as the walker left it, re-encoded even when nothing
        changed: its raw bytes may hold a key twice, and the decoder (like Go's) kept only the
        last — what was walked is what is sent. Raises ``MaskingError`` for protobuf,
        truncated or otherwise unparseable bodies.
        """
        if body[:4] == _PROTOBUF_MAGIC:
            raise MaskingError("protobuf response cannot be masked; refusing to pass it")
        if not body.strip():
            return MaskResult(body, 0)
        objects = self._objects
        clean = self._clean
        with _collector_paused(len(body)):
            if clean(body) and _valid(body):
                return MaskResult(body, 0)   # provably nothing to mask: not even parsed
            try:
                if len(body) >= _BULK_MIN:
                    try:
                        done = mask_collection(body, self._parts(clean))
                    finally:
                        objects.flush_learned()
                    if done is not None:
                        return MaskResult(*done)
                doc = _loads(body)
                n = objects.document(doc, raw=body)
            except RecursionError:
                raise MaskingError("response body is nested too deeply to mask") from None
            return MaskResult(dumps(doc), n)

    def mask_json_stream(self, body: bytes) -> MaskedBatches | AsIs | None:
        """A big List or Table (``_BULK_MIN`` on), masked item by item and handed out in
        batches as they are done; ``None`` for any other body (``mask_json`` it whole).

        Same masking as ``mask_json`` (all the collection's Secrets are learned with the first
        batch, before any element is masked), but the output is never assembled whole. Create
        and iterate it on one thread: each step uses that thread's walker. ``MaskingError``
        here for a bad top level, from a step for a bad element.
        """
        if len(body) < _BULK_MIN or body[:4] == _PROTOBUF_MAGIC:
            return None
        objects = self._objects
        clean = self._clean
        with _collector_paused(len(body)):
            if clean(body) and _valid(body):
                return AsIs(body)   # provably nothing to mask: one piece, not parsed
            try:
                batches = stream_collection(body, self._parts(clean))
            except RecursionError:
                raise MaskingError("response body is nested too deeply to mask") from None
        if batches is None:
            return None
        return MaskedBatches(batches, objects, len(body))

    def _mask_event(self, line: bytes) -> tuple[bytes, int]:
        if self._clean(line) and _valid(line):
            return line, 0   # provably nothing to mask (``clean.py``)
        with _collector_paused(len(line)):
            doc = _loads(line)
            try:
                n = self._objects.document(doc, raw=line)
            except RecursionError:
                raise MaskingError("watch event is nested too deeply to mask") from None
            out = dumps(doc)   # as walked, even unchanged (see ``mask_json``)
        return (out + b"\n" if line.endswith(b"\n") else out), n

    def learn(self, body: bytes) -> int:
        """Remember the secret values in a JSON document without returning it (priming).

        Before relaying a pod's logs or exec output, the proxy can feed the pod and the Secrets
        it mounts or references: their values are then masked even as bare text (``cat`` of a
        mounted file, ``echo $DB_PASSWORD``). Returns how many values are known afterwards.
        ``MaskingError`` if ``body`` is not JSON.
        """
        try:
            self._objects.document(_loads(body))
        except RecursionError:
            raise MaskingError("object is nested too deeply to learn from") from None
        return len(self._known)

    # -- streams -------------------------------------------------------------------------------

    def watch_stream(self) -> WatchMasker:
        """A masker for one NDJSON watch stream (plain or Table events)."""
        return WatchMasker(self._mask_event)

    def text_stream(self) -> LineMasker:
        """A masker for one log stream (``feed``/``close``; ``flush`` emits a held partial line)."""
        return LineMasker(lambda: self._stream_scanner)

    def exec_stream(self) -> FrameMasker:
        """A masker for one exec/attach WebSocket session (channel frames)."""
        return FrameMasker(lambda: LineMasker(lambda: self._stream_scanner))

    # -- request bodies ------------------------------------------------------------------------

    def check_request_body(self, body: bytes, content_type: str) -> int:
        """Number of placeholders written back in a request body (raw or base64); 0 = ok.

        The byte scan alone (protobuf bodies); JSON and YAML bodies go through
        ``check_write_back``, which looks at the decoded document.
        """
        return count_placeholders(body)

    def check_write_back(self, body: bytes, media_type: str, document: Any, *,
                         kind: str | None, namespace: str) -> WriteBack:
        """Placeholders in a parsed request body: restored where this session issued them at the
        same slot of the same namespace, refused (``WriteBack.refused`` names the fields)
        anywhere else. ``document`` is the body as the server will decode it."""
        return check_document(self.issued, body, media_type, document, kind=kind,
                              namespace=namespace)

    def mask_request_body_for_log(
        self, body: bytes, content_type: str, kind: str | None = None,
        document: Any = UNPARSED,
    ) -> tuple[str | dict[str, Any] | None, int]:
        """The body as the session log may keep it, and how many values were masked.

        ``kind`` (optional) names the target's kind when the caller knows it (e.g. ``Secret``
        for a patch to ``secrets``); without it, kindless bodies are masked conservatively.
        ``document`` is the already parsed body (not parsed again); it is not modified.
        """
        return mask_for_log(self._objects, self._ph, body, content_type, kind, document)
