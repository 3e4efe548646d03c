"""``kgate doctor`` against a real sandbox cluster and a broken setup, as the CLI prints it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kgate.sandbox.runner import RunningSandbox


def _doctor(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "PYTHONPATH")}
    env.update(KGATE_HOME=str(home), HOME=str(home.parent), COLUMNS="200", NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "kgate", "doctor", *args], capture_output=True,
                          text=True, env=env, timeout=60, check=False)


def _by_name(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in json.loads(proc.stdout)}


def test_healthy_setup_passes_and_reports_the_cluster_version(
        tmp_path: Path, sandbox: RunningSandbox, sandbox_kubeconfig: Path) -> None:
    home = tmp_path / "kgate-home"
    home.mkdir(mode=0o700)
    proc = _doctor(home, "--kubeconfig", str(sandbox_kubeconfig), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = _by_name(proc)
    assert checks["cluster"]["status"] == "ok" and "v1.32" in checks["cluster"]["detail"]
    assert checks["state directory"]["status"] == "ok"
    # local mode is a warning that says plainly what it cannot stop
    assert checks["identity"]["status"] == "warn"
    assert "same OS user" in checks["identity"]["detail"]
    human = _doctor(home, "--kubeconfig", str(sandbox_kubeconfig))
    assert human.returncode == 0 and "Traceback" not in human.stderr
    assert "cluster" in human.stdout and "ok" in human.stdout


def test_unreachable_cluster_and_open_home_fail_with_fixes(tmp_path: Path,
                                                            sandbox_kubeconfig: Path) -> None:
    home = tmp_path / "kgate-home"
    home.mkdir()
    os.chmod(home, 0o755)
    broken = tmp_path / "broken.kubeconfig"
    text = sandbox_kubeconfig.read_text()
    server = next(line.split("server:", 1)[1].strip() for line in text.splitlines()
                  if "server:" in line)
    broken.write_text(text.replace(server, "https://127.0.0.1:9"))
    proc = _doctor(home, "--kubeconfig", str(broken), "--json")
    assert proc.returncode == 1
    checks = _by_name(proc)
    assert checks["cluster"]["status"] == "fail"
    assert checks["state directory"]["status"] == "fail"
    assert checks["state directory"]["fix"] == f"chmod 700 {home}"
    missing = _doctor(home, "--kubeconfig", str(tmp_path / "nope"), "--json")
    assert missing.returncode == 1 and _by_name(missing)["cluster"]["status"] == "fail"
    assert "Traceback" not in proc.stderr + missing.stderr


def test_a_broken_policy_fails_with_its_place(tmp_path: Path, sandbox_kubeconfig: Path) -> None:
    home = tmp_path / "kgate-home"
    home.mkdir(mode=0o700)
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: kgate.dev/v1\nkind: Policy\nrulez: []\n")
    proc = _doctor(home, "--kubeconfig", str(sandbox_kubeconfig), "--policy", str(bad),
                   "--json")
    policy = _by_name(proc)["policy"]
    assert proc.returncode == 1 and policy["status"] == "fail"
    assert "bad.yaml:3" in policy["detail"]
