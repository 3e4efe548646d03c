"""The official ``kubernetes`` Python client through kgate: reads, watch, logs and exec
(``kubernetes.stream``, WebSocket ``v4.channel.k8s.io``), all masked."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.stream import stream

from kgate.sandbox.runner import ADMIN_TOKEN, ADMIN_USER, SandboxOptions, sandbox_in_thread
from kgate.sandbox.seed import AWS_SECRET_ACCESS_KEY, DB_PASSWORD, STRIPE_KEY
from tests.fixtures.proxy import BROKER_USER, start_proxy_thread
from tests.masking.test_corpus_kubectl import leaks

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("pyclient")
    options = SandboxOptions(state_dir=tmp / "sandbox", seed="demo",
                             tokens={"broker-py": BROKER_USER, ADMIN_TOKEN: ADMIN_USER})
    with sandbox_in_thread(options) as sandbox:
        upstream = sandbox.write_kubeconfig(tmp / "user" / "config", token="broker-py")
        thread, proxy, _ = start_proxy_thread(upstream, tmp / "kgate-home")
        try:
            kubeconfig = proxy.write_kubeconfig(tmp / "agent" / "kubeconfig")
            api = config.new_client_from_config(config_file=str(kubeconfig))
            yield client.CoreV1Api(api)
            api.close()
        finally:
            thread.stop()


def _api_pod(core: Any) -> str:
    pods = core.list_namespaced_pod("dev", label_selector="app=api").items
    return str(pods[0].metadata.name)


def test_reads_and_watch_are_masked(core: Any) -> None:
    secret = core.read_namespaced_secret("db-credentials", "prod-payments")
    password = base64.b64decode(secret.data["password"]).decode()
    assert password.startswith("kgate:masked:")
    assert secret.data.keys() == {"username", "password", "url"}
    events = []
    for event in watch.Watch().stream(core.list_namespaced_secret, "dev", timeout_seconds=2):
        events.append(event["object"])
    assert events and all(
        base64.b64decode(v).startswith(b"kgate:masked:") for s in events
        for k, v in (s.data or {}).items() if not k.endswith(".crt"))


def test_logs_are_masked(core: Any) -> None:
    pods = core.list_namespaced_pod("prod-payments", label_selector="app=payments-worker")
    log = core.read_namespaced_pod_log(pods.items[0].metadata.name, "prod-payments")
    # (the pod's Secret holds the word "payments" as a username: primed values are masked
    # whatever their shape, so the word is masked in this pod's output too)
    assert "processed batch size=10" in log
    assert STRIPE_KEY not in log and "kgate:masked:" in log


def test_exec_through_kubernetes_stream_is_masked(core: Any) -> None:
    out = stream(core.connect_get_namespaced_pod_exec, _api_pod(core), "dev",
                 command=["env"], stderr=True, stdin=False, stdout=True, tty=False)
    assert "LOG_LEVEL=debug" in out
    assert DB_PASSWORD not in out and AWS_SECRET_ACCESS_KEY not in out
    assert "DB_PASSWORD=kgate:masked:" in out
    assert not leaks(out.encode())


def test_interactive_exec_with_stdin(core: Any) -> None:
    ws = stream(core.connect_get_namespaced_pod_exec, _api_pod(core), "dev", command=["cat"],
                stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
    try:
        ws.write_stdin(f"echo {DB_PASSWORD}\n")
        got = ""
        for _ in range(50):
            ws.update(timeout=0.2)
            got += ws.read_stdout() if ws.peek_stdout() else ""
            if "\n" in got:
                break
    finally:
        ws.close()
    assert got.startswith("echo ") and DB_PASSWORD not in got and "kgate:masked:" in got
