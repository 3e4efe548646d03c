"""Watch event types as kubectl shows them: a change to an object that existed before the watch
started is MODIFIED, and selectors turn objects entering/leaving them into ADDED/DELETED."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.fixtures.kube import KubectlRunner, popen_kubectl


def _next_event(proc: subprocess.Popen[str], name: str) -> list[str]:
    assert proc.stdout is not None
    while True:  # bounded by the test timeout
        fields = proc.stdout.readline().split()
        if fields[1:2] == [name]:
            return fields


@pytest.mark.timeout(60)
def test_update_of_a_preexisting_object_is_modified(sandbox_kubeconfig: Path,
                                                     kubectl: KubectlRunner, kubectl_bin: str,
                                                     tmp_path: Path) -> None:
    kc = sandbox_kubeconfig
    kubectl("create", "configmap", "before", "--from-literal=a=1", kubeconfig=kc)
    proc = popen_kubectl(kubectl_bin, ["get", "configmaps", "-w", "--output-watch-events"], kc,
                         tmp_path)
    try:
        assert _next_event(proc, "before")[0] == "ADDED"  # the initial list
        kubectl("label", "configmap", "before", "touched=yes", kubeconfig=kc)
        assert _next_event(proc, "before")[0] == "MODIFIED"
        kubectl("delete", "configmap", "before", kubeconfig=kc)
        assert _next_event(proc, "before")[0] == "DELETED"
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.timeout(60)
def test_selector_watch_sees_objects_enter_and_leave(sandbox_kubeconfig: Path,
                                                     kubectl: KubectlRunner, kubectl_bin: str,
                                                     tmp_path: Path) -> None:
    kc = sandbox_kubeconfig
    kubectl("create", "configmap", "mover", kubeconfig=kc)
    proc = popen_kubectl(kubectl_bin, ["get", "configmaps", "-l", "tier=web", "-w",
                                       "--output-watch-events"], kc, tmp_path)
    try:
        kubectl("label", "configmap", "mover", "tier=web", kubeconfig=kc)
        assert _next_event(proc, "mover")[0] == "ADDED"
        kubectl("label", "configmap", "mover", "extra=1", kubeconfig=kc)
        assert _next_event(proc, "mover")[0] == "MODIFIED"
        kubectl("label", "configmap", "mover", "tier=db", "--overwrite", kubeconfig=kc)
        assert _next_event(proc, "mover")[0] == "DELETED"
    finally:
        proc.kill()
        proc.wait(10)
