"""Every kubectl an agent may carry: 1.27–1.33 through the proxy, with the corpus's leak check.

The machine keeps kubectl 1.27 … 1.33 beside the Google Cloud CLI dispatcher (``kubectl.1.NN``).
Each version found runs the same scenario through one proxy in front of the demo sandbox: get in
every output form, a watch, client- and server-side apply, edit, patch, logs -f, exec with stdin
and an exit code (SPDY/3.1 for 1.29 and older, WebSocket after), attach, diff and auth can-i.
Nothing any of them prints may carry a seeded secret in any form. 1.32 is mandatory; a version
that is not installed is skipped with the reason (CI's summary lists them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kgate.sandbox.runner import ADMIN_TOKEN, ADMIN_USER, SandboxOptions, sandbox_in_thread
from tests.fixtures.kube import kubectl_env
from tests.fixtures.proxy import BROKER_USER, start_proxy_thread
from tests.masking.test_corpus_kubectl import leaks

pytestmark = pytest.mark.timeout(240)

VERSIONS = ("1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33")
MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: compat-%(tag)s, namespace: dev}
data: {mode: "%(mode)s"}
"""


def _binary(version: str) -> str | None:
    found = shutil.which("kubectl")
    if found is None:
        return None
    beside = Path(os.path.realpath(found)).parent / f"kubectl.{version}"
    return str(beside) if os.access(beside, os.X_OK) else None


@dataclass
class Cluster:
    agent_kubeconfig: Path
    admin_kubeconfig: Path
    tmp: Path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("compat")
    broker = "broker-compat-token"
    options = SandboxOptions(state_dir=tmp / "sandbox", seed="demo",
                             tokens={broker: BROKER_USER, ADMIN_TOKEN: ADMIN_USER})
    with sandbox_in_thread(options) as sandbox:
        upstream = sandbox.write_kubeconfig(tmp / "user" / "config", token=broker)
        admin = sandbox.write_kubeconfig(tmp / "admin" / "config")
        thread, proxy, _ = start_proxy_thread(upstream, tmp / "kgate-home")
        try:
            yield Cluster(proxy.write_kubeconfig(tmp / "agent" / "kubeconfig"), admin, tmp)
        finally:
            thread.stop()


class Agent:
    """Runs one kubectl version through the proxy and keeps everything it printed."""

    def __init__(self, binary: str, cluster: Cluster, version: str) -> None:
        self.binary, self.cluster = binary, cluster
        self.home = cluster.tmp / f"home-{version}"
        self.home.mkdir(exist_ok=True)
        self.printed: list[tuple[str, bytes]] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = kubectl_env(self.cluster.agent_kubeconfig, self.home)
        env.update(extra)
        return env

    def run(self, *args: str, stdin: bytes | None = None, ok: tuple[int, ...] = (0,),
            **env: str) -> str:
        proc = subprocess.run([self.binary, *args], input=stdin, capture_output=True,
                              env=self.env(**env), timeout=60, check=False)
        label = " ".join(args[:4])
        self.printed.append((label, proc.stdout + proc.stderr))
        assert proc.returncode in ok, (
            f"kubectl {label} exited {proc.returncode}: {proc.stderr.decode()[-400:]}")
        return proc.stdout.decode()

    def stream(self, *args: str, until: bytes, then: object = None) -> bytes:
        """Start a long-running command, wait until its output contains ``until``."""
        proc = subprocess.Popen([self.binary, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=self.env())
        out = bytearray()
        done = threading.Event()

        def pump() -> None:
            assert proc.stdout is not None
            while chunk := proc.stdout.read1(4096):  # type: ignore[attr-defined]
                out.extend(chunk)
                if until in out:
                    done.set()
            done.set()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        if callable(then):
            time.sleep(0.5)
            then()
        done.wait(30)
        proc.terminate()
        proc.wait(10)
        reader.join(5)
        self.printed.append((" ".join(args[:3]), bytes(out)))
        assert until in out, f"kubectl {' '.join(args[:3])} never printed {until!r}"
        return bytes(out)


def _admin(cluster: Cluster, binary: str, *args: str) -> None:
    subprocess.run([binary, *args], env=kubectl_env(cluster.admin_kubeconfig, cluster.tmp),
                   capture_output=True, timeout=60, check=True)


@pytest.mark.parametrize("version", VERSIONS)
def test_kubectl_version_through_kgate(version: str, cluster: Cluster) -> None:
    binary = _binary(version)
    if binary is None:
        if version == "1.32":
            pytest.fail("kubectl 1.32 is mandatory: install the Google Cloud CLI's kubectl "
                        "components or set KGATE_KUBECTL")
        pytest.skip(f"kubectl {version} is not installed beside the kubectl on PATH")
    a = Agent(binary, cluster, version)
    tag = version.replace(".", "-")
    pod = a.run("get", "pods", "-n", "dev", "-l", "app=api", "-o", "name").split()[0]

    # get, every output form; Secrets and the leaky ConfigMap included
    assert "api" in a.run("get", "pods", "-n", "dev")
    for form in ("yaml", "json", "wide", "name", "jsonpath={.items[*].metadata.name}"):
        a.run("get", "pods,secrets,configmaps", "-n", "dev", "-o", form)
    a.run("get", "secret", "db-credentials", "-n", "prod-payments", "-o", "yaml")
    a.run("describe", "secret", "aws-credentials", "-n", "dev")

    # a watch sees a change made elsewhere
    a.stream("get", "configmaps", "-n", "dev", "-w", until=f"watched-{tag}".encode(),
             then=lambda: _admin(cluster, binary, "create", "configmap", f"watched-{tag}",
                                 "-n", "dev", "--from-literal=k=v"))

    # writes: client-side apply twice, server-side apply, patch, edit, diff
    manifest = cluster.tmp / f"cm-{tag}.yaml"
    manifest.write_text(MANIFEST % {"tag": tag, "mode": "one"})
    assert "created" in a.run("apply", "-f", str(manifest))
    assert "unchanged" in a.run("apply", "-f", str(manifest))
    manifest.write_text(MANIFEST % {"tag": tag, "mode": "two"})
    a.run("diff", "-f", str(manifest), ok=(1,))
    a.run("apply", "--server-side", "--force-conflicts", "-f", str(manifest))
    a.run("patch", "configmap", f"compat-{tag}", "-n", "dev", "--type", "merge",
          "-p", '{"data":{"mode":"three"}}')
    a.run("edit", "configmap", f"compat-{tag}", "-n", "dev",
          KUBE_EDITOR="sed -i s/three/four/")
    assert "four" in a.run("get", "configmap", f"compat-{tag}", "-n", "dev", "-o",
                           "jsonpath={.data.mode}")

    # logs, logs -f, exec (stdin, exit codes, env with secrets), attach
    a.run("logs", "-n", "dev", pod)
    a.stream("logs", "-f", "-n", "dev", "deploy/web", until=b"heartbeat")
    env = a.run("exec", "-n", "dev", pod, "--", "env")
    assert "DB_PASSWORD=kgate:masked:" in env
    assert a.run("exec", "-i", "-n", "dev", pod, "--", "cat", stdin=b"hello stdin\n") == \
        "hello stdin\n"
    a.run("exec", "-n", "dev", pod, "--", "sh", "-c", "exit 3", ok=(3,))
    web = a.run("get", "pods", "-n", "dev", "-l", "app=web", "-o", "name").split()[0]
    a.stream("attach", "-n", "dev", web, until=b"heartbeat")

    assert a.run("auth", "can-i", "get", "pods", "-n", "dev").strip() == "yes"

    found = [f"{label}: {', '.join(hits)}" for label, data in a.printed
             if (hits := leaks(data))]
    assert not found, f"kubectl {version} printed secrets: {found}"
