"""``kgate proxy`` killed with SIGKILL: its log verifies up to the last whole record and the
last signed checkpoint, and says it is not sealed (exit 2)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from tests.audit.conftest import Logged, SessionsCli
from tests.fixtures.kube import KubectlRunner


def _wait(predicate: Callable[[], bool], proc: subprocess.Popen[str], what: str,
          timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"kgate proxy exited early: {proc.communicate()[1]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _last_kind(path: Path) -> str | None:
    lines = path.read_bytes().splitlines()
    return orjson.loads(lines[-1])["kind"] if lines else None


@pytest.mark.timeout(120)
def test_a_killed_proxy_leaves_a_verifiable_unsealed_log(
        logged: Logged, kubectl: KubectlRunner, tmp_path: Path,
        sessions_cli: Callable[[Path], SessionsCli]) -> None:
    home = tmp_path / "home-crash"
    out = tmp_path / "agent-crash" / "kubeconfig"
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
    env.update(KGATE_HOME=str(home), HOME=str(home), NO_COLOR="1", COLUMNS="200")
    proc = subprocess.Popen([sys.executable, "-m", "kgate", "proxy", "--no-grant", "--kubeconfig",
                             str(logged.upstream_kubeconfig), "--kubeconfig-out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    try:
        _wait(out.exists, proc, "the kubeconfig")
        [log] = list((home / "sessions").glob("s-*.jsonl"))
        kubectl("get", "pods", "-n", "dev", kubeconfig=out)
        kubectl("--as=x", "get", "secrets", "-n", "dev", kubeconfig=out, check=False)
        # A checkpoint is signed within a second of the last record.
        _wait(lambda: _last_kind(log) == "checkpoint", proc, "a checkpoint")
        kubectl("get", "configmaps", "-n", "dev", kubeconfig=out)
        _wait(lambda: _last_kind(log) == "request", proc, "the last request record", 5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    lines = log.read_bytes().splitlines()
    kinds = [orjson.loads(x)["kind"] for x in lines]
    assert "end" not in kinds
    checkpoint = max(i for i, k in enumerate(kinds) if k == "checkpoint")
    with open(log, "ab") as f:  # what a write cut short by the kill would leave
        f.write(b'{"prev":"' + b"0" * 30)
    cli = sessions_cli(home)
    result = cli("verify", log.stem)
    assert result.exit_code == 2, result.output
    assert "intact but not sealed" in result.output
    assert f"{len(lines)} records" in result.output
    assert f"signed through record {checkpoint}" in result.output
    assert "torn" in result.output
    listed = orjson.loads(cli("list", "--json").stdout)
    assert [r["sealed"] for r in listed] == [False]
    assert listed[0]["denied"] == 1
    table = cli("list")
    assert "not sealed" in table.output
