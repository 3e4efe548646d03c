"""Real kubectl 1.32 through a proxy under the default policy: deny, hold, approve, replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kgate.proxy.session import Exchange
from tests.fixtures.kube import KubectlRunner, kubectl_env
from tests.holds.conftest import Gated


def _popen(kubectl_bin: str, args: list[str], kubeconfig: Path, home: Path
           ) -> subprocess.Popen[str]:
    return subprocess.Popen([kubectl_bin, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env=kubectl_env(kubeconfig, home))


def _record(g: Gated, wanted: Callable[[Exchange], bool]) -> Exchange:
    """The first exchange ``wanted`` picks (records land just after kubectl has its reply)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [e for e in g.audit.exchanges if wanted(e)]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("no such exchange was recorded")


def _deployment(kubectl: KubectlRunner, kc: Path, name: str = "web") -> None:
    kubectl("create", "deployment", name, "--image=nginx:1.27", "--replicas=1", kubeconfig=kc)


def _exists(g: Gated, resource: tuple[str, str], ns: str, name: str) -> bool:
    sandbox = g.proxied.sandbox
    return sandbox.run(lambda: sandbox.store.get(resource[0], resource[1], ns, name)) is not None


def test_namespace_delete_is_denied_by_rule(gated: Callable[..., Gated],
                                            kubectl: KubectlRunner) -> None:
    g = gated()
    kubectl("create", "namespace", "prod", kubeconfig=g.kubeconfig)
    proc = kubectl("delete", "namespace", "prod", kubeconfig=g.kubeconfig, check=False)
    assert proc.returncode != 0
    assert ("Error from server (Forbidden): kgate: denied by rule no-namespace-delete: agents "
            "may not delete namespaces") in proc.stderr
    assert _exists(g, ("", "namespaces"), "", "prod")
    assert _record(g, lambda e: e.rule == "no-namespace-delete").status == 403


def test_held_delete_approved_from_another_process(gated: Callable[..., Gated],
                                                   kubectl: KubectlRunner, kubectl_bin: str,
                                                   tmp_path: Path) -> None:
    g = gated()
    _deployment(kubectl, g.kubeconfig)
    agent = _popen(kubectl_bin, ["delete", "deployment", "web"], g.kubeconfig, tmp_path)
    try:
        hold = g.wait_for_hold()
        # While kubectl waits, the agent's other calls go on.
        assert "web" in kubectl("get", "deployments", kubeconfig=g.kubeconfig).stdout
        assert agent.poll() is None
        listed = g.pending_json()
        assert [h["id"] for h in listed] == [hold.id]
        item = listed[0]
        assert (item["verb"], item["resource"], item["name"]) == ("delete", "deployments.apps",
                                                                   "web")
        assert item["kubectl_command"] == "kubectl delete"
        assert item["session"] == g.proxy.session.id
        assert "-  replicas: 1" in str(item["diff"])  # the whole object goes away
        approved = g.kgate("approve", hold.id, "--yes")
        assert hold.id in approved.stdout
        out, err = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == 0, err
    assert 'deployment.apps "web" deleted' in out
    assert not _exists(g, ("apps", "deployments"), "default", "web")
    record = _record(g, lambda e: e.method == "DELETE")
    assert (record.decision, record.hold_id) == ("approved", hold.id)
    assert record.approved_by and record.approved_by.startswith("local:")


def test_held_then_denied_prints_the_reason(gated: Callable[..., Gated], kubectl: KubectlRunner,
                                            kubectl_bin: str, tmp_path: Path) -> None:
    g = gated()
    _deployment(kubectl, g.kubeconfig)
    agent = _popen(kubectl_bin, ["delete", "deployment", "web"], g.kubeconfig, tmp_path)
    try:
        hold = g.wait_for_hold()
        g.kgate("deny", hold.id, "--reason", "not during the freeze", "--yes")
        _out, err = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode != 0
    assert f"kgate: held for review as {hold.id}" in err
    assert "denied by local:" in err and "not during the freeze" in err
    assert _exists(g, ("apps", "deployments"), "default", "web")
    # A second decision on the same hold is refused.
    again = g.kgate("approve", hold.id, "--yes", check=False)
    assert again.returncode != 0 and "already denied" in again.stderr


def test_timeout_then_approval_admits_the_same_request_once(
        gated: Callable[..., Gated], kubectl: KubectlRunner) -> None:
    g = gated(hold_timeout="2s")
    kc = g.kubeconfig
    for name in ("a", "b"):
        kubectl("create", "configmap", name, "--from-literal=k=v", kubeconfig=kc)
    first = kubectl("delete", "configmap", "a", kubeconfig=kc, check=False)
    assert first.returncode != 0
    assert "Error from server (Forbidden): kgate: held for review as h-" in first.stderr
    hold_id = first.stderr.split("held for review as ", 1)[1].split()[0]
    assert f"'kgate approve {hold_id}'" in first.stderr
    assert _exists(g, ("", "configmaps"), "default", "a")
    # A different request is not admitted by that approval.
    g.kgate("approve", hold_id, "--yes")
    other = kubectl("delete", "configmap", "b", kubeconfig=kc, check=False)
    assert other.returncode != 0 and "held for review" in other.stderr
    second = kubectl("delete", "configmap", "a", kubeconfig=kc)
    assert 'configmap "a" deleted' in second.stdout
    assert not _exists(g, ("", "configmaps"), "default", "a")
    # Recreate it: the same command is held again (the approval was used up).
    kubectl("create", "configmap", "a", "--from-literal=k=v", kubeconfig=kc)
    third = kubectl("delete", "configmap", "a", kubeconfig=kc, check=False)
    assert third.returncode != 0 and "held for review as h-" in third.stderr
    assert hold_id not in third.stderr
    assert _exists(g, ("", "configmaps"), "default", "a")


def test_dry_run_delete_is_not_held(gated: Callable[..., Gated],
                                    kubectl: KubectlRunner) -> None:
    g = gated(hold_timeout="2s")
    kubectl("create", "configmap", "c", "--from-literal=k=v", kubeconfig=g.kubeconfig)
    out = kubectl("delete", "configmap", "c", "--dry-run=server", kubeconfig=g.kubeconfig)
    assert "deleted (server dry run)" in out.stdout
    assert _exists(g, ("", "configmaps"), "default", "c")


def test_held_scale_and_patch_show_masked_diffs(gated: Callable[..., Gated],
                                                kubectl: KubectlRunner, kubectl_bin: str,
                                                tmp_path: Path) -> None:
    extra = ("  - name: review-configmap-writes\n"
             "    match: {verbs: [patch, update], resources: [configmaps, secrets]}\n"
             "    action: review\n")
    g = gated(hold_timeout="60s", extra=extra)
    kc = g.kubeconfig
    _deployment(kubectl, kc)
    kubectl("create", "secret", "generic", "db", "--from-literal=password=hunter2-s3cret",
            kubeconfig=kc)
    known: set[str] = set()
    cases = [
        (["scale", "deployment", "web", "--replicas=3"],
         ["-  replicas: 1", "+  replicas: 3"]),
        (["patch", "secret", "db", "-p", '{"stringData":{"password":"n3w-hunter2-value"}}'],
         ["-  password: ", "+  password: "]),
    ]
    for args, expected in cases:
        agent = _popen(kubectl_bin, args, kc, tmp_path)
        try:
            hold = g.wait_for_hold(known=known)
            known.add(hold.id)
            diff = hold.request.diff or ""
            for line in expected:
                assert line in diff, diff
            g.kgate("approve", hold.id, "--yes")
            _out, err = agent.communicate(timeout=60)
        finally:
            if agent.poll() is None:
                agent.kill()
        assert agent.returncode == 0, err
        for secret in ("hunter2-s3cret", "n3w-hunter2-value", "aHVudGVyMi1zM2NyZXQ",
                       "bjN3LWh1bnRlcjItdmFsdWU"):
            assert secret not in diff
            assert secret not in json.dumps(hold.request.body)
    secret_diff = diff
    # The Secret's value changed: old and new placeholders differ, both masked.
    removed = next(line for line in secret_diff.splitlines() if line.startswith("-  password:"))
    added = next(line for line in secret_diff.splitlines() if line.startswith("+  password:"))
    assert removed != added


def test_held_apply_shows_the_change(gated: Callable[..., Gated], kubectl: KubectlRunner,
                                     kubectl_bin: str, tmp_path: Path) -> None:
    extra = ("  - name: review-applies\n"
             "    match: {verbs: [patch], resources: [configmaps]}\n"
             "    action: review\n")
    g = gated(extra=extra)
    manifest = tmp_path / "cm.yaml"
    text = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\n"
            "data: {mode: %s, api_key: AKIAIOSFODNN7EXAMPLE}\n")
    manifest.write_text(text % "one")
    kubectl("apply", "-f", str(manifest), kubeconfig=g.kubeconfig)
    manifest.write_text(text % "two")
    agent = _popen(kubectl_bin, ["apply", "-f", str(manifest)], g.kubeconfig, tmp_path)
    try:
        hold = g.wait_for_hold()
        diff = hold.request.diff or ""
        assert "-  mode: one" in diff and "+  mode: two" in diff, diff
        assert "AKIAIOSFODNN7EXAMPLE" not in diff
        g.kgate("approve", hold.id, "--yes")
        _out, err = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == 0, err


SHELL_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: shell, namespace: default}
spec:
  containers: [{name: app, image: busybox}]
"""


def test_held_exec_waits_then_runs_once_approved(gated: Callable[..., Gated],
                                                 kubectl: KubectlRunner, kubectl_bin: str,
                                                 tmp_path: Path) -> None:
    g = gated()
    manifest = tmp_path / "shell.yaml"
    manifest.write_text(SHELL_POD)
    kubectl("apply", "-f", str(manifest), kubeconfig=g.kubeconfig)
    kubectl("wait", "--for=condition=Ready", "pod/shell", "--timeout=20s",
            kubeconfig=g.kubeconfig)
    agent = _popen(kubectl_bin, ["exec", "shell", "--", "echo", "approved-run"], g.kubeconfig,
                   tmp_path)
    try:
        hold = g.wait_for_hold()
        assert (hold.request.verb, hold.request.resource_label) == ("create", "pods/exec")
        time.sleep(3)  # kubectl keeps its upgrade request open while the human reads
        assert agent.poll() is None
        g.kgate("approve", hold.id, "--yes")
        out, err = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == 0, err
    assert out == "approved-run\n"


def test_the_agent_cannot_approve_its_own_hold_from_inside_the_session(
        gated: Callable[..., Gated], kubectl: KubectlRunner) -> None:
    g = gated(hold_timeout="1s")
    kubectl("create", "configmap", "c", "--from-literal=k=v", kubeconfig=g.kubeconfig)
    held = kubectl("delete", "configmap", "c", kubeconfig=g.kubeconfig, check=False)
    hold_id = held.stderr.split("held for review as ", 1)[1].split()[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGATE_")}
    env.update(KGATE_HOME=str(g.home), KGATE_SESSION=g.proxy.session.id)
    proc = subprocess.run([sys.executable, "-m", "kgate", "approve", hold_id, "--yes"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 5 and "from inside kgate session" in proc.stderr
    again = kubectl("delete", "configmap", "c", kubeconfig=g.kubeconfig, check=False)
    assert again.returncode != 0 and "held for review" in again.stderr
    assert _exists(g, ("", "configmaps"), "default", "c")
