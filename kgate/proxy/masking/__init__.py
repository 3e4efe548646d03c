"""Masking: no secret value in a response ever reaches the agent.

Pure functions of their inputs (no sockets, clocks or files); the proxy's mask stage calls them.

* ``settings``     — ``MaskingSettings`` from the policy's ``masking:`` block, validated.
* ``placeholders`` — ``kgate:masked:<8 hex>``: keyed BLAKE2b of the value, per-session key, cached.
* ``keys``         — ``key_is_sensitive``: the one notion of a key that holds a secret.
* ``catalogue``    — each detector's regex, anchors and match handler (token shapes).
* ``keyed``        — the value after a sensitive key in any syntax (YAML blocks, XML, flags…).
* ``detectors``    — ``TextScanner``: one Aho-Corasick pass finds anchors, only matching
  detectors (private keys, AWS/GitHub/GitLab/Slack/Stripe and other vendor tokens, JWTs, URL
  passwords, assignments, command lines, SQL, custom regexes) run; produces span edits.
* ``known``        — values seen as secret this session, found again as bare text in streams;
  values primed for a live stream are pinned there until it ends.
* ``primed``       — which values priming learns from a pod and its Secrets (all of them).
* ``objects``      — walks every string and key of every reply (objects, Lists, Tables, watch
  events, Status): sensitive keys → placeholders, detectors on free text, known values anywhere.
* ``harmless``     — the one list of structurally harmless fields (names, uids, timestamps…).
* ``seen``         — values the walker learned, found again in any reply (cheap to grow).
* ``slots``        — where each placeholder was issued (namespace + normalised slot), in memory.
* ``streams``      — chunked logs, NDJSON watch streams and exec frames with bounded hold-back.
* ``roundtrip``    — finds placeholders in bytes (raw or base64 at any alignment).
* ``writeback``    — placeholders in a decoded request body: restored at their own slot, else 422.
* ``request_bodies`` — request bodies masked for the session log; protobuf summarised.
* ``masker``       — ``Masker``, the per-session facade the proxy uses.

Anything that cannot be parsed raises ``MaskingError``: the proxy answers 502, never the bytes.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .masker import Masker, MaskResult
    from .placeholders import PLACEHOLDER_RE, PREFIX, MaskingError, is_placeholder
    from .settings import DETECTOR_NAMES, MaskingSettings
    from .streams import FrameMasker, LineMasker, WatchMasker

    #: What ``Masker.text_stream``/``watch_stream`` return: ``feed(bytes) -> bytes``, ``close()``.
    ChunkMasker = LineMasker | WatchMasker

# Imported on first use (PEP 562): the policy loader needs only ``MaskingSettings``, and
# ``kgate exec`` validates the policy before the agent starts, so importing the whole engine
# (msgspec, the Aho-Corasick automata) there would delay every agent.
_WHERE = {"Masker": "masker", "MaskResult": "masker", "PLACEHOLDER_RE": "placeholders",
          "PREFIX": "placeholders", "MaskingError": "placeholders",
          "is_placeholder": "placeholders", "DETECTOR_NAMES": "settings",
          "MaskingSettings": "settings", "FrameMasker": "streams", "LineMasker": "streams",
          "WatchMasker": "streams"}


def __getattr__(name: str) -> Any:
    import importlib
    if name == "ChunkMasker":
        streams = importlib.import_module(".streams", __name__)
        return streams.LineMasker | streams.WatchMasker
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DETECTOR_NAMES",
    "PLACEHOLDER_RE",
    "PREFIX",
    "ChunkMasker",
    "FrameMasker",
    "LineMasker",
    "MaskResult",
    "Masker",
    "MaskingError",
    "MaskingSettings",
    "WatchMasker",
    "is_placeholder",
]
