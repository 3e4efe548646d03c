"""``kgate proxy`` as a user runs it: a subprocess, a kubeconfig that appears, clean signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.kube import KubectlRunner
from tests.fixtures.proxy import Proxied


def _start(args: list[str], home: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
    env.update(KGATE_HOME=str(home), HOME=str(home), NO_COLOR="1", COLUMNS="200")
    return subprocess.Popen([sys.executable, "-m", "kgate", "proxy", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    while not path.exists():  # bounded by the test timeout
        if proc.poll() is not None:
            raise AssertionError(f"kgate proxy exited early: {proc.communicate()[1]}")
        time.sleep(0.05)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_proxy_command_serves_and_stops_cleanly(proxied: Proxied, kubectl: KubectlRunner,
                                                tmp_path: Path, signum: int, code: int) -> None:
    out = tmp_path / "agent-cli" / "kubeconfig"
    proc = _start(["--kubeconfig", str(proxied.upstream_kubeconfig), "--kubeconfig-out",
                   str(out), "--no-grant"], tmp_path / "home")
    try:
        _wait_for(out, proc)
        assert out.stat().st_mode & 0o777 == 0o600
        assert proxied.broker_token.encode() not in out.read_bytes()
        assert "default" in kubectl("get", "namespaces", kubeconfig=out).stdout
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == code, stderr
    assert not out.exists()
    assert "Traceback" not in stderr
    assert str(out) in stderr and "UNSCOPED" in stderr
    assert proxied.broker_token not in stderr


@pytest.mark.timeout(60)
def test_proxy_command_default_kubeconfig_location(proxied: Proxied, tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = _start(["--kubeconfig", str(proxied.upstream_kubeconfig), "--no-grant"], home)
    try:
        while not list((home / "run").glob("s-*/kubeconfig")):  # bounded by the timeout
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.05)
        run_dir = next((home / "run").glob("s-*"))
        assert run_dir.stat().st_mode & 0o777 == 0o700
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0 and not run_dir.exists()


def test_proxy_command_reports_config_errors(tmp_path: Path) -> None:
    proc = _start(["--kubeconfig", str(tmp_path / "missing")], tmp_path / "home")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert "kubeconfig not found" in stderr and "Traceback" not in stderr
