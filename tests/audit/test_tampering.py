"""Every kind of tampering with a sealed log is caught, and named; the index can be rebuilt."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from kgate.audit import chain
from kgate.audit.index import SessionIndex
from kgate.audit.signing import FileKeyStore, sign
from kgate.audit.verify import Verdict, verify_log
from kgate.audit.writer import LogSettings, SessionInfo, SessionLog
from tests.audit.conftest import SessionsCli

SID = "s-0123456789ab"


def _write_log(home: Path, n: int = 60) -> Path:
    log = SessionLog(home / "sessions", SessionInfo(SID, "local:alice", grant="g-1"),
                     FileKeyStore(home), LogSettings(checkpoint_every=10))
    log.start()
    SessionIndex.note_started(home, log)
    for i in range(n):
        log.submit("request", {"t": time.time(), "verb": "get", "resource": "pods",
                               "namespace": "dev", "status": 200 if i % 7 else 403,
                               "decision": "allow" if i % 7 else "deny", "masked": i % 3})
    log.close()
    SessionIndex.note_sealed(home, log)
    return log.path


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    return home, _write_log(home)


def _verify(home: Path, path: Path, with_index: bool = True) -> Verdict:
    public = FileKeyStore(home).public_key()
    assert public is not None
    index = SessionIndex(home)
    try:
        seal = index.seal(SID) if with_index else None
    finally:
        index.close()
    return verify_log(path, public, seal)


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _rewrite(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def test_an_untouched_log_is_intact_sealed_and_checkpointed(sealed: tuple[Path, Path]) -> None:
    home, path = sealed
    verdict = _verify(home, path)
    assert verdict.sealed and not verdict.tampered, verdict.summary()
    kinds = [orjson.loads(line)["kind"] for line in _lines(path)]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert kinds.count("request") == 60 and kinds.count("checkpoint") >= 5
    assert verdict.records == len(kinds) and verdict.signed_through == len(kinds) - 1
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def _edit_one_byte(lines: list[bytes]) -> None:
    at = lines[5].index(b'"verb":"get"') + len(b'"verb":"')
    line = bytearray(lines[5])
    line[at] = ord("s")  # "get" -> "set"
    lines[5] = bytes(line)


def _delete(lines: list[bytes]) -> None:
    del lines[5]


def _swap(lines: list[bytes]) -> None:
    lines[5], lines[6] = lines[6], lines[5]


def _forge_with_recomputed_hashes(lines: list[bytes]) -> None:
    """Insert a record and re-chain everything after it: only a signature can stop this."""
    record = chain.decode(lines[5])
    prev = str(record["prev"])
    forged = [lines[:5]]
    out = list(lines[:5])
    fields = {"t": time.time(), "verb": "delete", "resource": "namespaces", "name": "prod",
              "status": 200, "decision": "allow"}
    seq = 5
    for original in [chain.encode(prev, 5, "request", fields) + b"\n", *lines[5:]]:
        rec = chain.decode(original)
        body = {k: v for k, v in rec.items() if k not in chain.CHAIN_FIELDS}
        if "records" in body:
            body["records"] = seq
        line = chain.encode(prev, seq, str(rec["kind"]), body)
        out.append(line + b"\n")
        prev = chain.line_hash(line)
        seq += 1
    del forged
    lines[:] = out


def _truncate_tail(lines: list[bytes]) -> None:
    del lines[-3:]


def _replace_signature(lines: list[bytes]) -> None:
    end = chain.decode(lines[-1])
    checkpoint = next(chain.decode(x) for x in lines if b'"kind":"checkpoint"' in x)
    end["sig"] = checkpoint["sig"]
    lines[-1] = chain.encode(str(end["prev"]), int(end["seq"]), "end",
                             {k: v for k, v in end.items() if k not in chain.CHAIN_FIELDS}) + b"\n"


def _append_after_end(lines: list[bytes]) -> None:
    lines.append(chain.encode(chain.line_hash(lines[-1]), len(lines), "request",
                              {"t": 1.0}) + b"\n")


def _drop_head(lines: list[bytes]) -> None:
    del lines[0]


@pytest.mark.parametrize("tamper,record,says", [
    (_edit_one_byte, 6, "does not match record 5"),
    (_delete, 5, "does not match record 4"),
    (_swap, 5, "does not match record 4"),
    (_forge_with_recomputed_hashes, None, "signature does not verify"),
    (_truncate_tail, None, "removed from or added to the end"),
    (_replace_signature, None, "signature does not verify"),
    (_append_after_end, None, "follows the session's end record"),
    (_drop_head, 0, "not a session start record"),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
def test_each_kind_of_tampering_is_detected_and_named(
        sealed: tuple[Path, Path], tamper: Callable[[list[bytes]], None],
        record: int | None, says: str) -> None:
    home, path = sealed
    lines = _lines(path)
    tamper(lines)
    _rewrite(path, lines)
    verdict = _verify(home, path)
    assert verdict.tampered and not verdict.sealed, verdict.summary()
    assert says in verdict.summary()
    if record is not None:
        assert verdict.bad_record == record
        assert f"record {record}:" in verdict.summary()


def test_a_forged_signature_made_with_another_key_fails(sealed: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    home, path = sealed
    lines = _lines(path)
    end = chain.decode(lines[-1])
    other = FileKeyStore(tmp_path / "attacker").private_key()
    fields = {k: v for k, v in end.items() if k not in chain.CHAIN_FIELDS and k != "sig"}
    unsigned = chain.encode(str(end["prev"]), int(end["seq"]), "end", fields)
    lines[-1] = chain.encode(str(end["prev"]), int(end["seq"]), "end",
                             {**fields, "sig": sign(other, unsigned)}) + b"\n"
    _rewrite(path, lines)
    verdict = _verify(home, path)
    assert verdict.tampered and "signature does not verify" in verdict.summary()


def test_a_truncated_copy_without_the_index_is_unsealed_with_a_signed_prefix(
        sealed: tuple[Path, Path]) -> None:
    home, path = sealed
    lines = _lines(path)
    checkpoint = min(i for i, x in enumerate(lines) if b'"kind":"checkpoint"' in x)
    _rewrite(path, lines[:checkpoint + 3] + [lines[checkpoint + 3][:40]])
    verdict = _verify(home, path, with_index=False)
    assert not verdict.tampered and not verdict.sealed
    assert verdict.signed_through == checkpoint and verdict.torn_tail
    assert "not sealed" in verdict.summary() and "torn" in verdict.summary()
    assert "last 2 record(s) are not covered by a signature" in verdict.summary()


def test_the_deleted_index_is_rebuilt_and_still_catches_truncation(
        sealed: tuple[Path, Path], sessions_cli: Callable[[Path], SessionsCli]) -> None:
    home, path = sealed
    cli = sessions_cli(home)
    for name in ("kgate.db", "kgate.db-wal", "kgate.db-shm"):
        (home / name).unlink(missing_ok=True)
    listed = cli("list", "--json")
    assert listed.exit_code == 0, listed.output
    [row] = orjson.loads(listed.stdout)
    assert row["id"] == SID and row["calls"] == 60 and row["denied"] == 9
    assert row["sealed"] is True and row["identity"] == "local:alice" and row["grant"] == "g-1"
    assert cli("reindex").exit_code == 0
    assert cli("verify", SID).exit_code == 0
    _rewrite(path, _lines(path)[:-2])
    result = cli("verify", SID)
    assert result.exit_code == 1, result.output
    assert "TAMPERED" in result.output and "removed from or added to the end" in result.output


def test_verify_with_only_the_public_key_on_a_copied_log(
        sealed: tuple[Path, Path], tmp_path: Path,
        sessions_cli: Callable[[Path], SessionsCli]) -> None:
    home, path = sealed
    exported = sessions_cli(home)("key", "export", "--out", str(tmp_path / "kgate.pub"))
    assert exported.exit_code == 0
    elsewhere = sessions_cli(tmp_path / "other-machine")
    copy = tmp_path / "copy.jsonl"
    shutil.copy(path, copy)
    ok = elsewhere("verify", "--key", str(tmp_path / "kgate.pub"), str(copy))
    assert ok.exit_code == 0 and "intact and sealed" in ok.output, ok.output
    lines = _lines(copy)
    _edit_one_byte(lines)
    _rewrite(copy, lines)
    bad = elsewhere("verify", "--key", str(tmp_path / "kgate.pub"), str(copy))
    assert bad.exit_code == 1 and "record 6" in bad.output
    _rewrite(copy, _lines(path)[:-1])
    unsealed = elsewhere("verify", "--key", str(tmp_path / "kgate.pub"), str(copy))
    assert unsealed.exit_code == 2 and "not sealed" in unsealed.output
    # A key that did not sign the log cannot vouch for it.
    FileKeyStore(tmp_path / "third").private_key()
    third = sessions_cli(tmp_path / "third")
    assert third("key", "export", "--out", str(tmp_path / "third.pub")).exit_code == 0
    shutil.copy(path, copy)
    assert elsewhere("verify", "--key", str(tmp_path / "third.pub"),
                     str(copy)).exit_code == 1


def test_a_body_naming_kind_checkpoint_cannot_confuse_the_verifier(tmp_path: Path) -> None:
    # The agent controls request bodies: a nested "kind":"checkpoint" must not be read as the
    # record's kind (a false alarm would let an agent make its own log look tampered).
    home = tmp_path / "home"
    log = SessionLog(home / "sessions", SessionInfo(SID, "local:alice"), FileKeyStore(home))
    log.start()
    log.submit("request", {"body": {"kind": "checkpoint", "prev": "0" * 64, "seq": 0,
                                    "sig": "AAAA"}, "command": '"kind":"end"'})
    log.close()
    public = FileKeyStore(home).public_key()
    assert public is not None
    verdict = verify_log(log.path, public)
    assert verdict.sealed and not verdict.tampered, verdict.summary()


def test_show_does_not_pass_an_agents_terminal_escapes_to_the_human(
        tmp_path: Path, sessions_cli: Callable[[Path], SessionsCli]) -> None:
    home = tmp_path / "home"
    log = SessionLog(home / "sessions", SessionInfo(SID, "local:alice"), FileKeyStore(home))
    log.start()
    SessionIndex.note_started(home, log)
    log.submit("request", {"t": time.time(), "command": "kubectl get\x1b]0;pwned\x07[red]x",
                           "verb": "get", "decision": "allow", "status": 200, "ms": 1.0})
    log.close()
    shown = sessions_cli(home)("show", SID)
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.output and "\x07" not in shown.output
    assert "kubectl get?]0;pwned?[red]x" in shown.output
