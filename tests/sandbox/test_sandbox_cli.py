"""``kgate sandbox`` as a user runs it: foreground, kubeconfig when ready, clean stop."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kgate.kubeconfig import write_kubeconfig
from kgate.upstream_config import load_upstream
from tests.fixtures.idp import OIDCProvider
from tests.fixtures.kube import KubectlRunner


def start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "KGATE_HOME": str(tmp_path / "home"), "NO_COLOR": "1",
           "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "kgate", "sandbox", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@contextlib.contextmanager
def running(tmp_path: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``kgate sandbox ARGS`` for the duration of the block; killed if still running after it."""
    proc = start(tmp_path, *args)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def stop(proc: subprocess.Popen[str], signum: int = signal.SIGTERM) -> str:
    """Send ``signum`` and return what the sandbox printed on stderr."""
    proc.send_signal(signum)
    return proc.communicate(timeout=15)[1]


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"kgate sandbox exited early: {proc.communicate()[1]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("kubeconfig never appeared")
        time.sleep(0.02)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_foreground_sandbox_serves_and_stops_cleanly(tmp_path: Path, kubectl: KubectlRunner,
                                                     signum: int) -> None:
    out = tmp_path / "kc" / "sandbox.yaml"
    with running(tmp_path, "--kubeconfig-out", str(out), "--token", "t0ken", "--seed",
                 "demo") as proc:
        wait_for(out, proc)
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert "t0ken" in out.read_text()
        names = kubectl("get", "ns", "-o", "name", kubeconfig=out).stdout.split()
        assert "namespace/prod-payments" in names
        stderr = stop(proc, signum)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "listening on https://127.0.0.1:" in stderr and str(out) in stderr
    assert out.exists()        # a path the user chose is kept


def test_default_kubeconfig_is_removed_on_exit(tmp_path: Path) -> None:
    default = tmp_path / "home" / "sandbox" / "kubeconfig"
    with running(tmp_path) as proc:
        wait_for(default, proc)
        stop(proc)
    assert proc.returncode == 0
    assert not default.exists()


def test_oidc_flags_let_id_tokens_in(tmp_path: Path, kubectl: KubectlRunner,
                                     oidc_provider: OIDCProvider) -> None:
    out = tmp_path / "kc" / "sandbox.yaml"
    with running(tmp_path, "--kubeconfig-out", str(out), "--oidc-issuer-url",
                 oidc_provider.issuer, "--oidc-client-id", oidc_provider.client_id,
                 "--oidc-ca-file", str(oidc_provider.ca_file), "--oidc-username-claim",
                 "email") as proc:
        wait_for(out, proc)
        admin = load_upstream(out)
        assert admin.ca_pem is not None
        oidc_config = write_kubeconfig(tmp_path / "alice" / "config", server=admin.server,
                                       ca_pem=admin.ca_pem,
                                       token=oidc_provider.login("alice").id_token)
        whoami = kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}",
                         kubeconfig=oidc_config)
        assert whoami.stdout == "alice@example.com"
        stderr = stop(proc)
    assert proc.returncode == 0, stderr


def test_oidc_issuer_without_client_id_is_a_usage_error(tmp_path: Path) -> None:
    proc = start(tmp_path, "--oidc-issuer-url", "https://127.0.0.1:1")
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "--oidc-client-id" in stderr and "Traceback" not in stderr

