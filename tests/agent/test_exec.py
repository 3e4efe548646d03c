"""``kgate exec``: the agent reaches the cluster only through kgate, and nothing outlives it.

Each test runs the real CLI (``python -m kgate exec``) as a subprocess against the demo sandbox,
with real kubectl 1.32 as (part of) the agent. The broker's credential is a sandbox token in an
"upstream" kubeconfig the agent must never see.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kgate.sandbox.runner import ADMIN_TOKEN, ADMIN_USER, SandboxOptions, sandbox_in_thread
from kgate.sandbox.seed import DEMO_SECRET_VALUES
from tests.fixtures.proxy import BROKER_USER

pytestmark = pytest.mark.timeout(120)


@dataclass
class Setup:
    upstream: Path
    broker_token: str
    home: Path
    kubectl: str
    tmp: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
        env.update(KGATE_HOME=str(self.home), HOME=str(self.tmp / "home"),
                   KUBECACHEDIR=str(self.tmp / "kube-cache"), PYTHONUNBUFFERED="1")
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        env.update(extra)
        return env

    def argv(self, *cmd: str, options: tuple[str, ...] = ()) -> list[str]:
        return [sys.executable, "-m", "kgate", "exec", "--no-grant", "--kubeconfig",
                str(self.upstream),
                *options, "--", *cmd]

    def run(self, *cmd: str, timeout: float = 60, **extra: str
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*cmd), capture_output=True, text=True,
                              env=self.env(**extra), timeout=timeout, check=False)


@pytest.fixture
def setup(tmp_path: Path, kubectl_bin: str) -> Iterator[Setup]:
    broker_token = "broker-" + secrets.token_urlsafe(16)
    options = SandboxOptions(state_dir=tmp_path / "sandbox", seed="demo",
                             tokens={broker_token: BROKER_USER, ADMIN_TOKEN: ADMIN_USER})
    (tmp_path / "home" / "out").mkdir(parents=True)   # where a confined agent may write
    with sandbox_in_thread(options) as sandbox:
        upstream = sandbox.write_kubeconfig(tmp_path / "user" / "config", token=broker_token)
        yield Setup(upstream=upstream, broker_token=broker_token, home=tmp_path / "kgate-home",
                    kubectl=kubectl_bin, tmp=tmp_path)


def _leftover_kubeconfigs(session_id: str) -> list[str]:
    import tempfile
    return [p for p in os.listdir(tempfile.gettempdir()) if p.startswith(f"kgate-{session_id}-")]


def _proxy_children() -> list[int]:
    """Pids of running ``kgate.proxy.child`` processes started by this test process's tree."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if b"kgate.proxy.child" in cmdline:
            pids.append(int(entry))
    return pids


def _session_id(stderr: str) -> str:
    for word in stderr.split():
        if word.startswith("s-") and len(word) > 8:
            return word
    raise AssertionError(f"no session id in kgate's stderr: {stderr!r}")


def test_agent_output_is_masked_and_its_exit_code_passed_through(setup: Setup) -> None:
    k = setup.kubectl
    proc = setup.run("sh", "-c", f"{k} get pods -n prod-payments && "
                                 f"{k} get secret db-credentials -n prod-payments -o yaml; "
                                 "exit 7")
    assert proc.returncode == 7, proc.stderr
    assert "payments-worker" in proc.stdout
    assert "kind: Secret" in proc.stdout and "kgate:masked:" not in proc.stdout.split(
        "data:")[0]
    for value in DEMO_SECRET_VALUES:
        assert value not in proc.stdout and value not in proc.stderr
    assert "ended (agent exit 7)" in proc.stderr and "calls" in proc.stderr
    assert not _leftover_kubeconfigs(_session_id(proc.stderr))


def test_agent_environment_has_no_broker_credential(setup: Setup) -> None:
    proc = setup.run("sh", "-c", 'env; echo "---"; cat "$KUBECONFIG"',
                     KUBECONFIG=str(setup.upstream), AWS_SECRET_ACCESS_KEY="aws-secret-planted",
                     KUBERNETES_SERVICE_HOST="10.0.0.1", GOOGLE_APPLICATION_CREDENTIALS="/x.json")
    assert proc.returncode == 0, proc.stderr
    env_text, kubeconfig_text = proc.stdout.split("---", 1)
    env = dict(line.split("=", 1) for line in env_text.splitlines() if "=" in line)
    assert env["KGATE_SESSION"].startswith("s-")
    assert env["KUBECONFIG"] != str(setup.upstream) and "kgate-s-" in env["KUBECONFIG"]
    for name in ("AWS_SECRET_ACCESS_KEY", "KUBERNETES_SERVICE_HOST",
                 "GOOGLE_APPLICATION_CREDENTIALS", "KGATE_HOME"):
        assert name not in env
    assert setup.broker_token not in proc.stdout
    assert str(setup.upstream) not in proc.stdout
    assert "https://127.0.0.1:" in kubeconfig_text and "token:" in kubeconfig_text


def test_kubeconfig_is_gone_afterwards_and_its_token_dead(setup: Setup) -> None:
    keep = setup.tmp / "home" / "out" / "kept-kubeconfig"
    proc = setup.run("sh", "-c", f'cp "$KUBECONFIG" {keep}; {setup.kubectl} get ns')
    assert proc.returncode == 0, proc.stderr
    assert not _leftover_kubeconfigs(_session_id(proc.stderr))
    after = subprocess.run([setup.kubectl, "--kubeconfig", str(keep), "get", "ns",
                            "--request-timeout=5s"], capture_output=True, text=True,
                           env=setup.env(), timeout=30, check=False)
    assert after.returncode != 0
    assert "refused" in after.stderr or "Unable to connect" in after.stderr


def _start(setup: Setup, *cmd: str) -> subprocess.Popen[str]:
    return subprocess.Popen(setup.argv(*cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=setup.env(), stdin=subprocess.DEVNULL)


def _wait_for_file(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} never appeared")
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_to_kgate_leaves_nothing_behind(setup: Setup, signum: int) -> None:
    marker = setup.tmp / "home" / "out" / "agent-started"
    before = set(_proxy_children())
    proc = _start(setup, "sh", "-c", f'echo "$KGATE_SESSION" > {marker}; '
                                     f'{setup.kubectl} get pods -A -w')
    _wait_for_file(marker)
    session_id = marker.read_text().strip()
    time.sleep(1.0)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "Traceback" not in stderr
    assert not _leftover_kubeconfigs(session_id)
    assert set(_proxy_children()) <= before


def test_agent_killed_leaves_nothing_behind(setup: Setup) -> None:
    marker = setup.tmp / "home" / "out" / "agent-pid"
    before = set(_proxy_children())
    proc = _start(setup, "sh", "-c", f'echo "$$ $KGATE_SESSION" > {marker}; exec sleep 60')
    _wait_for_file(marker)
    time.sleep(0.3)
    pid, session_id = marker.read_text().split()
    os.kill(int(pid), signal.SIGKILL)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGKILL
    assert "ended (agent exit 137)" in stderr
    assert not _leftover_kubeconfigs(session_id)
    assert set(_proxy_children()) <= before


def test_proxy_dying_mid_session_ends_the_agent_with_a_clear_error(setup: Setup) -> None:
    marker = setup.tmp / "home" / "out" / "agent-started"
    before = set(_proxy_children())
    proc = _start(setup, "sh", "-c", f'{setup.kubectl} get ns > /dev/null && touch {marker}; '
                                     "exec sleep 60")
    _wait_for_file(marker)
    children = set(_proxy_children()) - before
    assert len(children) == 1
    os.kill(children.pop(), signal.SIGKILL)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 6, stderr
    assert "proxy stopped unexpectedly" in stderr and "Traceback" not in stderr


def test_unknown_command_is_one_line_and_cleans_up(setup: Setup) -> None:
    proc = setup.run("no-such-agent-binary")
    assert proc.returncode == 2
    assert "command not found: no-such-agent-binary" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_fast_path_parses_what_typer_would() -> None:
    from kgate.agent.command import parse_fast
    opts = parse_fast(["--grant", "g-1", "--policy=p.yaml", "-q", "--", "kubectl", "get", "-A"])
    assert opts is not None and opts.grant == "g-1" and opts.quiet
    assert str(opts.policy) == "p.yaml" and opts.command == ["kubectl", "get", "-A"]
    no_dashes = parse_fast(["--kill-on-expiry", "sh", "-c", "true"])
    assert no_dashes is not None and no_dashes.kill_on_expiry
    assert no_dashes.command == ["sh", "-c", "true"]
    # anything unusual is left to typer, which owns help and usage errors
    for argv in (["--help"], ["--grant"], ["--bogus", "--", "x"], ["--"], []):
        assert parse_fast(argv) is None


def test_usage_errors_and_help_come_from_typer(setup: Setup) -> None:
    bad = subprocess.run([sys.executable, "-m", "kgate", "exec", "--bogus", "--", "true"],
                         capture_output=True, text=True, env=setup.env(), timeout=60)
    assert bad.returncode == 2 and "--bogus" in bad.stderr
    shown = subprocess.run([sys.executable, "-m", "kgate", "exec", "--help"],
                           capture_output=True, text=True, env=setup.env(COLUMNS="120"),
                           timeout=60)
    assert shown.returncode == 0 and "kgate exec -- kubectl get pods" in shown.stdout


def test_exec_under_a_real_grant_reaches_only_what_it_covers(setup: Setup) -> None:
    policy = setup.tmp / "policy.yaml"
    policy.write_text("apiVersion: kgate.dev/v1\nkind: Policy\nallowSelfApproval: true\n"
                      'approvers: ["local:*"]\n')
    env = setup.env(KGATE_POLICY=str(policy))

    def kgate(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kgate", *args], capture_output=True,
                              text=True, env=env, timeout=60, check=False)

    asked = kgate("request", "--kubeconfig", str(setup.upstream), "--namespace",
                  "prod-payments", "--ttl", "10m", "--json")
    assert asked.returncode == 0, asked.stderr
    grant = json.loads(asked.stdout)["id"]
    assert kgate("approve", grant, "--yes").returncode == 0
    k = setup.kubectl
    proc = subprocess.run(
        [sys.executable, "-m", "kgate", "exec", "--grant", grant, "--kubeconfig",
         str(setup.upstream), "--", "sh", "-c",
         f"{k} get pods -n prod-payments && {k} get pods -n dev; echo rc=$?"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
        cwd=setup.tmp / "home")
    assert proc.returncode == 0, proc.stderr
    assert "payments-worker" in proc.stdout and "rc=1" in proc.stdout
    assert f"grant {grant}" in proc.stderr and "dev" in proc.stderr
