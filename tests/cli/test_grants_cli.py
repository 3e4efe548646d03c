"""The grant commands as a human (and a hostile agent) run them: subprocesses, pinned env."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kgate.grants.agents import SessionAgents
from kgate.grants.store import SqliteGrantStore
from tests.fixtures.grants import Cluster, kgate_env, run_kgate

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
SELF_OK = "allowSelfApproval: true\n"


def _home(tmp_path: Path, policy: str = SELF_OK) -> Path:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "policy.yaml").write_text(policy)
    return home


def _request(home: Path, *args: str) -> str:
    out = run_kgate(home, "request", "--namespace", "payments", "--ttl", "30m", "--json", *args)
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["id"])


def _grants(home: Path) -> list[dict[str, object]]:
    out = run_kgate(home, "grants", "--all", "--json")
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout))


def test_request_pending_approve_grants_shapes(tmp_path: Path) -> None:
    home = _home(tmp_path)
    out = run_kgate(home, "request", "--namespace", "payments", "--namespace", "web",
                    "--ttl", "30m", "--reason", "debug checkout")
    assert out.returncode == 0, out.stderr
    grant_id = re.search(r"\bg-[0-9a-f]{8}\b", out.stdout).group(0)  # type: ignore[union-attr]
    assert "pending" in out.stdout and f"kgate approve {grant_id}" in out.stdout

    pending = json.loads(run_kgate(home, "pending", "--json").stdout)
    assert [set(p) for p in pending] == [{"id", "kind", "created_at", "requester", "summary"}]
    assert pending[0]["id"] == grant_id and pending[0]["kind"] == "grant"
    assert RFC3339.fullmatch(pending[0]["created_at"])
    assert pending[0]["requester"].startswith("local:")
    assert "payments,web" in pending[0]["summary"] and "debug checkout" in pending[0]["summary"]

    approved = run_kgate(home, "approve", grant_id, "--comment", "ok", "--yes")
    assert approved.returncode == 0, approved.stderr
    assert f"{grant_id} approved" in approved.stdout
    assert json.loads(run_kgate(home, "pending", "--json").stdout) == []

    [grant] = _grants(home)
    assert set(grant) == {"id", "state", "requester", "approver", "namespaces", "verbs",
                          "resources", "reason", "created_at", "approved_at", "expires_at"}
    assert grant["state"] == "active" and grant["namespaces"] == ["payments", "web"]
    assert grant["verbs"] == ["get", "list", "watch"] and grant["resources"] == []
    assert grant["approver"] == grant["requester"] and grant["reason"] == "debug checkout"
    for key in ("created_at", "approved_at", "expires_at"):
        assert RFC3339.fullmatch(str(grant[key])), grant
    table = run_kgate(home, "grants")
    assert grant_id in table.stdout and "local mode" in table.stdout.lower()
    assert "cannot stop" in table.stdout


@pytest.mark.parametrize("args,message", [
    (["--ttl", "0"], "--ttl '0' is not a duration"),
    (["--ttl", "-5m"], "has a sign"),
    (["--ttl", "99999h"], "longer than the policy's maximum 8h"),
    (["--ttl", "1x"], "is not a duration"),
    (["--ttl", "5s"], "shorter than the minimum 10s"),
    (["--ttl", "30m", "--verb", "get,steal"], "unknown verb 'steal'"),
    (["--ttl", "30m", "--namespace", "Not_A_Label"], "is not a DNS label"),
    (["--ttl", "30m", "--namespace", "a" * 64], "is not a DNS label"),
])
def test_request_validates_before_it_stores(tmp_path: Path, args: list[str],
                                            message: str) -> None:
    home = _home(tmp_path)
    out = run_kgate(home, "request", "--namespace", "payments", *args)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "hint:" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 2         # one line + one hint
    assert _grants(home) == []


def test_request_checks_resources_against_the_cluster(cluster: Cluster, tmp_path: Path) -> None:
    home = _home(tmp_path)
    kc = str(cluster.upstream_kubeconfig)
    bad = run_kgate(home, "request", "-n", "payments", "--ttl", "30m", "--resource",
                    "pods,podz", "--kubeconfig", kc)
    assert bad.returncode == 2 and "the cluster serves no resource 'podz'" in bad.stderr
    assert _grants(home) == []
    good = run_kgate(home, "request", "-n", "payments", "--ttl", "30m", "--resource",
                     "po,deploy,pods/log,nodes", "--kubeconfig", kc, "--json")
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["resources"] == ["pods", "deployments", "pods/log", "nodes"]
    store = SqliteGrantStore(home)
    assert store.grants()[0].cluster_resources == ("nodes",)
    store.close()
    unreachable = tmp_path / "unreachable"
    unreachable.write_text(Path(kc).read_text().replace(
        re.search(r"https://127\.0\.0\.1:\d+", Path(kc).read_text()).group(0),  # type: ignore[union-attr]
        "https://127.0.0.1:9"))
    down = run_kgate(home, "request", "-n", "payments", "--ttl", "30m", "--resource", "pods",
                     "--kubeconfig", str(unreachable))
    assert down.returncode == 6 and "cannot reach the cluster" in down.stderr
    assert "Traceback" not in down.stderr and len(_grants(home)) == 1


def test_auto_approve_says_so(tmp_path: Path) -> None:
    home = _home(tmp_path, "grants:\n  autoApprove:\n    - {namespaces: ['dev-*'], "
                           "verbs: [get, list, watch], maxTTL: 1h}\n")
    out = run_kgate(home, "request", "-n", "dev-a", "--ttl", "30m")
    assert out.returncode == 0 and "active" in out.stdout
    assert "auto-approved by policy:grants.autoApprove[0]" in out.stdout
    longer = run_kgate(home, "request", "-n", "dev-a", "--ttl", "2h")
    assert "pending" in longer.stdout


def test_approve_refused_inside_a_session(tmp_path: Path) -> None:
    home = _home(tmp_path)
    grant_id = _request(home)
    out = run_kgate(home, "approve", grant_id, "--yes", KGATE_SESSION="s-0123456789ab")
    assert out.returncode == 5 and "inside kgate session s-0123456789ab" in out.stderr
    assert _grants(home)[0]["state"] == "pending"


def test_approve_refused_from_the_agents_process_tree(tmp_path: Path) -> None:
    home = _home(tmp_path)
    grant_id = _request(home)
    # The "agent": a shell that, once recorded, runs kgate approve as its child.
    agent = subprocess.Popen(
        ["bash", "-c", f'read go; exec 3>&1; "{sys.executable}" -m kgate approve {grant_id} '
                       '--yes; echo "rc=$?"'],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=kgate_env(home), cwd=Path(__file__).resolve().parents[2])
    agents = SessionAgents(home)
    agents.record("s-agentsession", agent.pid)
    agents.close()
    stdout, stderr = agent.communicate("go\n", timeout=60)
    assert "rc=5" in stdout, (stdout, stderr)
    assert "under the agent of kgate session s-agentsession" in stderr
    assert _grants(home)[0]["state"] == "pending"


def test_approve_without_a_terminal_needs_yes(tmp_path: Path) -> None:
    home = _home(tmp_path)
    grant_id = _request(home)
    out = run_kgate(home, "approve", grant_id)
    assert out.returncode == 5 and "without a terminal" in out.stderr and "--yes" in out.stderr


def test_self_approval_needs_the_policy(tmp_path: Path) -> None:
    home = _home(tmp_path, "kind: Policy\n")
    grant_id = _request(home)
    out = run_kgate(home, "approve", grant_id, "--yes")
    assert out.returncode == 5 and "may not approve it too" in out.stderr
    assert "allowSelfApproval" in out.stderr


def test_two_approvers_at_once_one_wins(tmp_path: Path) -> None:
    home = _home(tmp_path)
    grant_id = _request(home)
    procs = [subprocess.Popen([sys.executable, "-m", "kgate", "approve", grant_id, "--yes"],
                              env=kgate_env(home), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(60), p.stdout.read(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, _, err in results if code == 1)
    assert f"{grant_id} is already approved" in loser
    assert "database is locked" not in "".join(o + e for _, o, e in results)


def test_deny_and_revoke(tmp_path: Path) -> None:
    home = _home(tmp_path)
    denied = _request(home)
    out = run_kgate(home, "deny", denied, "--reason", "use staging", "--yes")
    assert out.returncode == 0 and "denied: use staging" in out.stdout
    again = run_kgate(home, "approve", denied, "--yes")
    assert again.returncode == 1 and "already denied" in again.stderr
    active = _request(home)
    run_kgate(home, "approve", active, "--yes")
    assert run_kgate(home, "revoke", active, "--reason", "done").returncode == 0
    states = {g["id"]: g["state"] for g in _grants(home)}
    assert states == {denied: "denied", active: "revoked"}
    unknown = run_kgate(home, "approve", "x-123", "--yes")
    assert unknown.returncode == 1 and "g-…" in unknown.stderr


@pytest.mark.timeout(90)
def test_request_wait_exit_codes(tmp_path: Path) -> None:
    home = _home(tmp_path, SELF_OK + "grants:\n  pendingTimeout: 10s\n")

    def waiting() -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "kgate", "request", "-n", "payments",
                                 "--ttl", "30m", "--wait", "--json"], env=kgate_env(home),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def pending_id() -> str:
        while True:  # bounded by the test timeout
            items = json.loads(run_kgate(home, "pending", "--json").stdout)
            if items:
                return str(items[0]["id"])
            time.sleep(0.2)

    for action, code, state in (("approve", 0, "active"), ("deny", 5, "denied")):
        proc = waiting()
        grant_id = pending_id()
        assert run_kgate(home, action, grant_id, "--yes").returncode == 0
        stdout, stderr = proc.communicate(timeout=30)
        assert proc.returncode == code, stderr
        assert json.loads(stdout)["state"] == state
    # Nobody decides: the pending grant expires, and --wait says so with exit 6.
    proc = waiting()
    stdout, stderr = proc.communicate(timeout=40)
    assert proc.returncode == 6, stderr
    assert json.loads(stdout)["state"] == "expired"
    assert json.loads(run_kgate(home, "pending", "--json").stdout) == []


def test_proxy_chooses_the_single_active_grant(tmp_path: Path) -> None:
    home = _home(tmp_path)
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: "
        "{server: 'https://127.0.0.1:9'}}]\nusers: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n")
    none = run_kgate(home, "proxy", "--kubeconfig", str(kubeconfig))
    assert none.returncode == 2 and "no active grant" in none.stderr
    assert "kgate request" in none.stderr and "--no-grant" in none.stderr
    first, second = _request(home), _request(home)
    for g in (first, second):
        run_kgate(home, "approve", g, "--yes")
    several = run_kgate(home, "proxy", "--kubeconfig", str(kubeconfig))
    assert several.returncode == 2 and first in several.stderr and second in several.stderr
    assert "--grant" in several.stderr
    both = run_kgate(home, "proxy", "--grant", first, "--no-grant", "--kubeconfig",
                     str(kubeconfig))
    assert both.returncode == 2


@pytest.mark.parametrize("command", ["request", "pending", "approve", "deny", "revoke",
                                     "grants", "proxy"])
def test_help_has_an_example(tmp_path: Path, command: str) -> None:
    out = run_kgate(tmp_path, command, "--help")
    assert out.returncode == 0 and "Example: kgate " in out.stdout


@pytest.mark.timeout(90)
def test_proxy_runs_under_the_single_grant_and_says_when_it_ends(tmp_path: Path) -> None:
    import signal

    home = _home(tmp_path)
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: "
        "{server: 'https://127.0.0.1:9'}}]\nusers: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n")
    grant_id = _request(home)
    run_kgate(home, "approve", grant_id, "--yes")
    out = tmp_path / "agent" / "kubeconfig"
    proc = subprocess.Popen([sys.executable, "-m", "kgate", "proxy", "--kubeconfig",
                             str(kubeconfig), "--kubeconfig-out", str(out)],
                            env=kgate_env(home), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        while not out.exists():  # bounded by the test timeout
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        assert "namespace: payments" in out.read_text()        # the grant's namespace
        assert run_kgate(home, "revoke", grant_id, "--reason", "lunch").returncode == 0
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, stderr
    assert f"grant {grant_id}" in stderr and "UNSCOPED" not in stderr
    assert f"kgate: grant {grant_id} was revoked at" in stderr and "(lunch)" in stderr
    assert "Traceback" not in stderr
