"""Everyday kubectl 1.32 commands work through the proxy, against the sandbox."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.fixtures.kube import KubectlRunner
from tests.fixtures.proxy import Proxied

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default}
data: {mode: %s}
"""


def test_get_list_create_delete(proxied: Proxied, kubectl: KubectlRunner) -> None:
    kc = proxied.kubeconfig
    kubectl("create", "namespace", "team-a", kubeconfig=kc)
    assert "team-a" in kubectl("get", "namespaces", kubeconfig=kc).stdout
    kubectl("create", "configmap", "c1", "-n", "team-a", "--from-literal=k=v", kubeconfig=kc)
    obj = json.loads(kubectl("get", "configmap", "c1", "-n", "team-a", "-o", "json",
                             kubeconfig=kc).stdout)
    assert obj["data"] == {"k": "v"}
    kubectl("delete", "configmap", "c1", "-n", "team-a", kubeconfig=kc)
    gone = kubectl("get", "configmap", "c1", "-n", "team-a", kubeconfig=kc, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def test_protobuf_create_secret(proxied: Proxied, kubectl: KubectlRunner) -> None:
    kc = proxied.kubeconfig
    kubectl("create", "secret", "generic", "db", "--from-literal=password=hunter2",
            kubeconfig=kc)
    stored = proxied.sandbox.run(lambda: proxied.sandbox.store.get("", "secrets", "default", "db"))
    assert base64.b64decode(stored["data"]["password"]) == b"hunter2"  # passed through intact
    obj = json.loads(kubectl("get", "secret", "db", "-o", "json", kubeconfig=kc).stdout)
    assert base64.b64decode(obj["data"]["password"]).startswith(b"kgate:masked:")
    record = next(e for e in proxied.exchanges if e.method == "POST")
    assert record.attributes is not None and record.attributes.resource == "secrets"
    assert record.kubectl_command == "kubectl create secret generic"
    assert record.kubectl_session
    # The protobuf body was read without a schema: kind and name are known, bytes are not logged.
    assert record.body is not None
    assert (record.body.kind, record.body.name) == ("Secret", "db")
    assert record.body_log["protobuf"] is True and "hunter2" not in repr(record.body_log)


def test_apply_client_and_server_side_patch_replace(proxied: Proxied, kubectl: KubectlRunner,
                                                     tmp_path: Path) -> None:
    kc = proxied.kubeconfig
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(CONFIGMAP % "one")
    kubectl("apply", "-f", str(manifest), kubeconfig=kc)
    manifest.write_text(CONFIGMAP % "two")
    kubectl("apply", "-f", str(manifest), kubeconfig=kc)
    manifest.write_text(CONFIGMAP % "three")
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(manifest), kubeconfig=kc)
    kubectl("patch", "configmap", "settings", "-p", '{"data":{"extra":"x"}}', kubeconfig=kc)
    obj = json.loads(kubectl("get", "configmap", "settings", "-o", "json", kubeconfig=kc).stdout)
    assert obj["data"] == {"mode": "three", "extra": "x"}
    manifest.write_text(CONFIGMAP % "four")
    kubectl("replace", "-f", str(manifest), kubeconfig=kc)
    obj = json.loads(kubectl("get", "configmap", "settings", "-o", "json", kubeconfig=kc).stdout)
    assert obj["data"] == {"mode": "four"}
    manifest.write_text(CONFIGMAP % "five")
    dry = kubectl("apply", "--dry-run=server", "-f", str(manifest), kubeconfig=kc)
    assert "server dry run" in dry.stdout
    assert any(e.attributes and e.attributes.dry_run for e in proxied.exchanges)
    kubectl("delete", "-f", str(manifest), kubeconfig=kc)


def test_table_output_and_describe(proxied: Proxied, kubectl: KubectlRunner) -> None:
    kc = proxied.kubeconfig
    kubectl("create", "configmap", "shown", "--from-literal=a=b", kubeconfig=kc)
    table = kubectl("get", "configmaps", kubeconfig=kc).stdout
    assert table.splitlines()[0].split()[:2] == ["NAME", "DATA"]
    # describe asks for protobuf first; the proxy rewrites Accept to JSON.
    assert "shown" in kubectl("describe", "configmap", "shown", kubeconfig=kc).stdout


def test_serves_on_a_socket_bound_by_the_caller(proxied: Proxied, kubectl: KubectlRunner,
                                                tmp_path: Path) -> None:
    """``kgate exec`` binds the socket itself and hands it over; the proxy serves on it."""
    import socket

    from tests.fixtures.proxy import start_proxy_thread

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    thread, proxy, _ = start_proxy_thread(proxied.upstream_kubeconfig, tmp_path / "home3",
                                          sock=sock)
    try:
        assert proxy.url == f"https://127.0.0.1:{port}"
        kc = proxy.write_kubeconfig(tmp_path / "agent3" / "kubeconfig")
        assert "default" in kubectl("get", "namespaces", kubeconfig=kc).stdout
    finally:
        thread.stop()
