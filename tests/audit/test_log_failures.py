"""When the session log cannot be written, calls are refused (503) until it can: fail closed."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from kgate.audit.signing import FileKeyStore
from kgate.audit.verify import verify_log
from kgate.audit.writer import LogFile, LogSettings, LogUnavailable, SessionInfo, SessionLog
from kgate.proxy.stages.audit import open_session_log
from tests.audit.conftest import Logged
from tests.fixtures.kube import KubectlRunner
from tests.fixtures.proxy import start_logged_proxy_thread

FAST = LogSettings(retry_interval=0.1, fsync_interval=0.05)


class DiskSwitch:
    """Opens the log on /dev/full (every write fails with ENOSPC, from the kernel) until
    ``fixed`` is set; then on the real path."""

    def __init__(self) -> None:
        self.fixed = threading.Event()

    def __call__(self, path: Path) -> LogFile:
        return LogFile(path if self.fixed.is_set() else Path("/dev/full"))


def _wait(predicate: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_full_disk_fails_acks_tells_the_user_and_recovers_with_a_gap_record(
        tmp_path: Path) -> None:
    told: list[str] = []
    disk = DiskSwitch()
    home = tmp_path / "home"
    log = SessionLog(home / "sessions", SessionInfo("s-full", "local:alice"),
                     FileKeyStore(home), FAST, notify=told.append, open_file=disk)
    log.start()
    ack = log.submit("request", {"decision": "deny"}, ack=True)
    assert ack is not None
    with pytest.raises(LogUnavailable, match="No space left on device"):
        ack.result(10)
    assert log.failure == "No space left on device"
    assert len(told) == 1 and "cannot be written (No space left on device" in told[0]
    assert "refusing calls until it can" in told[0]
    log.submit("request", {"decision": "allow"})
    disk.fixed.set()
    _wait(lambda: log.failure is None)
    ok = log.submit("request", {"decision": "allow", "n": 3}, ack=True)
    assert ok is not None
    ok.result(10)
    log.close()
    assert "writable again" in told[-1]
    records = [orjson.loads(line) for line in log.path.read_bytes().splitlines()]
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "start" and kinds[-1] == "end" and "log-gap" in kinds
    gap = next(r for r in records if r["kind"] == "log-gap")
    assert gap["lost"] >= 2 and gap["reason"] == "No space left on device"
    public = FileKeyStore(home).public_key()
    assert public is not None
    assert verify_log(log.path, public).sealed


def test_an_unwritable_sessions_dir_is_reported(tmp_path: Path) -> None:
    def refuse(path: Path) -> LogFile:
        raise PermissionError(13, "Permission denied", str(path))
    told: list[str] = []
    home = tmp_path / "home"
    log = SessionLog(home / "sessions", SessionInfo("s-perm", "local:alice"),
                     FileKeyStore(home), FAST, notify=told.append, open_file=refuse)
    log.start()
    ack = log.submit("request", {}, ack=True)
    assert ack is not None
    with pytest.raises(LogUnavailable, match="Permission denied"):
        ack.result(10)
    log.close()
    assert told and "Permission denied" in told[0]


@pytest.mark.timeout(120)
def test_kubectl_gets_503_while_the_disk_is_full_and_works_again_after(
        logged: Logged, kubectl: KubectlRunner, tmp_path: Path) -> None:
    disk = DiskSwitch()
    told: list[str] = []
    home = tmp_path / "home-full"
    sink = open_session_log(home, "s-diskfull00", settings=FAST, notify=told.append,
                            open_file=disk)
    thread, proxy = start_logged_proxy_thread(logged.upstream_kubeconfig, home, audit=sink)
    try:
        kc = proxy.write_kubeconfig(tmp_path / "agent-full" / "kubeconfig")
        _wait(lambda: sink.unavailable() is not None)
        refused = kubectl("get", "--raw", "/api/v1/namespaces/dev/pods", kubeconfig=kc,
                          check=False)
        assert refused.returncode != 0
        assert ("kgate: the session log cannot be written (No space left on device); "
                "refusing calls until it can") in refused.stderr
        assert str(home) not in refused.stderr  # the agent is not told where the log lives
        assert any("cannot be written" in m for m in told)
        disk.fixed.set()
        _wait(lambda: sink.unavailable() is None)
        assert kubectl("get", "pods", "-n", "dev", kubeconfig=kc).returncode == 0
    finally:
        thread.stop()
    records = [orjson.loads(x) for x in (home / "sessions" / "s-diskfull00.jsonl")
               .read_bytes().splitlines()]
    assert [r["kind"] for r in records][-1] == "end"
    assert any(r["kind"] == "log-gap" and r["lost"] >= 1 for r in records)
    assert any(r["kind"] == "request" and r.get("status") == 200 for r in records)
    assert os.stat(home / "sessions" / "s-diskfull00.jsonl").st_mode & 0o777 == 0o600
