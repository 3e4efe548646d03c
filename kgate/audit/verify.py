"""Verifying a session log: the chain, the signatures, the seal the index remembers.

The walk reads each line once and checks it by offsets (``chain``): its ``prev`` must be the
sha256 of the line before, its ``seq`` its position. Only checkpoint, end and stream-close lines
are parsed (to check a signature or a recording's hash), which is what makes a million-record log
verify in about two seconds. The first failure stops the walk and names the record.

Outcomes: *sealed* (a valid signed end record closes an intact chain), *unsealed* (intact so far
but no end record: still running or crashed — the verdict says up to which record a checkpoint
signature covers, and whether a torn last line was ignored), *tampered*.
"""

from __future__ import annotations

import hashlib
from binascii import hexlify
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kgate.audit import chain
from kgate.audit.index import Seal
from kgate.audit.recording import file_sha256
from kgate.audit.signing import verify_signature

_SLOW = frozenset(b"ces")  # first letters of checkpoint, end, start, stream-close


@dataclass
class Verdict:
    path: Path
    session_id: str = ""
    records: int = 0
    head: str | None = None
    sealed: bool = False
    signed_through: int = -1  # seq of the last valid checkpoint/end
    torn_tail: bool = False
    bad_record: int | None = None
    problem: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def tampered(self) -> bool:
        return self.problem is not None

    def summary(self) -> str:
        name = self.session_id or self.path.name
        if self.problem is not None:
            return f"{name}: TAMPERED — {self.problem}"
        if self.sealed:
            return (f"{name}: intact and sealed ({self.records} records, head "
                    f"{(self.head or '')[:16]}…)")
        signed = (f"signed through record {self.signed_through}" if self.signed_through >= 0
                  else "no signed checkpoint yet")
        unsigned = self.records - 1 - self.signed_through
        text = (f"{name}: intact but not sealed (still running or crashed): {self.records} "
                f"records, {signed}")
        if unsigned > 0:
            text += f"; the last {unsigned} record(s) are not covered by a signature"
        if self.torn_tail:
            text += "; a torn, half-written last line was ignored"
        return text


def verify_log(path: Path, public: Ed25519PublicKey, seal: Seal | None = None) -> Verdict:
    """Walk ``path``; ``seal`` is what the index remembers of it (None when verifying a copy)."""
    verdict = Verdict(path=path)
    notes: list[str] = []

    def bad(seq: int, problem: str) -> Verdict:
        verdict.bad_record, verdict.problem = seq, f"record {seq}: {problem}"
        verdict.notes = tuple(notes)
        return verdict

    base = hashlib.sha256()  # copied per line: see chain._SHA256
    with open(path, "rb") as f:
        first = f.readline()
        if not first.endswith(b"\n"):
            return bad(0, "the log has no whole record (empty or torn start record)")
        try:
            start = chain.decode(first)
        except ValueError:
            return bad(0, "the first record is not readable JSON")
        if start.get("kind") != "start" or not isinstance(start.get("session"), str):
            return bad(0, "the first record is not a session start record (records were "
                          "removed from the beginning)")
        verdict.session_id = start["session"]
        f.seek(0)
        expected = chain.genesis(verdict.session_id).encode()
        # Where the top-level kind's first letter sits: after the prev hash and the seq
        # digits, so it moves one byte at every power of ten.
        at, next_width = chain.SEQ_AT + 1 + len(chain.KIND_KEY), 10
        slow = _SLOW
        seq, ended = 0, False
        for line in f:
            if line[-1] != 10:
                verdict.torn_tail = True
                break
            if ended:
                return bad(seq, "a record follows the session's end record (appended after "
                                "the log was sealed)")
            if not line.startswith(expected, 9):
                if seq == 0:
                    return bad(0, "its prev is not the genesis hash of the session id")
                return bad(seq, f"its prev hash does not match record {seq - 1}: record "
                                f"{seq - 1} was edited, or records were deleted, inserted or "
                                "reordered here")
            if seq == next_width:
                at, next_width = at + 1, next_width * 10
            # Only checkpoint, end, start and stream-close lines need more than the chain.
            if line[at] in slow:
                problem = _check_line(line[:-1], seq, at, verdict, public, path, notes)
                if problem is not None:
                    return bad(seq, problem)
                ended = line.startswith(b'end"', at)
            h = base.copy()
            h.update(line)
            expected = hexlify(h.digest())
            seq += 1
    verdict.records = seq
    verdict.head = expected.decode()
    verdict.sealed = ended
    verdict.notes = tuple(notes)
    if seal is not None and (seal.records != seq or seal.head != verdict.head):
        verdict.sealed = False
        return bad(min(seq, seal.records),
                   f"the log was sealed with {seal.records} records (head {seal.head[:16]}…) "
                   f"but now has {seq} (head {verdict.head[:16]}…): records were removed from "
                   "or added to the end")
    return verdict


def _check_line(body: bytes, seq: int, k: int, verdict: Verdict, public: Ed25519PublicKey,
                path: Path, notes: list[str]) -> str | None:
    """The few lines that need more than the chain: signed records, starts, recordings."""
    if body.startswith(b'start"', k):
        return "a second session start record" if seq else None
    if not body.startswith((b'checkpoint"', b'end"', b'stream-close"'), k):
        return None
    try:
        record = chain.decode(body)
    except (ValueError, orjson.JSONDecodeError):
        return "it is not valid JSON"
    kind = record.get("kind")
    if kind == "stream-close":
        name, digest = record.get("recording"), record.get("recording_sha256")
        if isinstance(name, str) and isinstance(digest, str):
            cast = path.parent / name
            if not cast.is_file():
                notes.append(f"recording {name} is not here (not checked)")
            elif file_sha256(cast) != digest:
                return f"the recording {name} does not match the hash the log recorded"
        return None
    if (record.get("session") != verdict.session_id or record.get("records") != seq
            or record.get("seq") != seq):
        return f"the {kind} record names another session or record count"
    sig = record.get("sig")
    if not isinstance(sig, str):
        return f"the {kind} record carries no signature"
    try:
        canonical = chain.encode(record["prev"], seq, str(kind),
                                 {k: v for k, v in record.items() if k not in chain.CHAIN_FIELDS})
        unsigned = chain.without(record, "sig")
    except (KeyError, ValueError, TypeError):
        return f"the {kind} record is malformed"
    if canonical != body:
        return f"the {kind} record is not in canonical form (it was edited)"
    if not verify_signature(public, unsigned, sig):
        return f"the {kind} record's signature does not verify with this public key"
    verdict.signed_through = seq
    return None
