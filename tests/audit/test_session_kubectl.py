"""A real kubectl 1.32 session through the proxy, recorded: one record per call, verifiable,
exportable as Kubernetes audit Events, replayable, and free of every seeded secret."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from kgate.audit.export import records
from kgate.sandbox.seed import DEMO_SECRET_VALUES, GITHUB_TOKEN
from tests.audit.conftest import Logged, SessionsCli
from tests.fixtures.kube import KubectlRunner

# kubectl -v=6 logs one line per HTTP request it makes, e.g.
# "round_trippers.go:553] GET https://127.0.0.1:41234/api?timeout=32s 403 Forbidden in 3 ms"
_REQUEST_LINE = re.compile(r"\] (GET|POST|PUT|PATCH|DELETE) https://127\.0\.0\.1:\d+/\S* (\d{3})")

SECRET_MANIFEST = """\
apiVersion: v1
kind: Secret
metadata: {name: app-secret, namespace: dev}
type: Opaque
stringData: {password: "@@SECRET@@"}
"""

SHELL_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: shell, namespace: dev}
spec:
  containers:
  - name: app
    image: busybox
    env: [{name: GITHUB_TOKEN, value: "@@SECRET@@"}]
"""


def _run_counted(kubectl: KubectlRunner, kc: Path, *args: str, ok: bool = True
                 ) -> tuple[int, str]:
    proc = kubectl(*args, "-v=6", kubeconfig=kc, check=ok)
    return len(_REQUEST_LINE.findall(proc.stderr)), proc.stdout + proc.stderr


def _session(logged: Logged, kubectl: KubectlRunner, tmp_path: Path) -> int:
    """Drive a varied session; return how many HTTP requests kubectl says it made."""
    kc = logged.kubeconfig
    secret_yaml = tmp_path / "secret.yaml"
    secret_yaml.write_text(SECRET_MANIFEST.replace("@@SECRET@@", DEMO_SECRET_VALUES[0]))
    calls = 0
    for args, ok in ((("get", "pods", "-A"), True),
                     (("get", "secret", "db-credentials", "-n", "prod-payments", "-o", "yaml"),
                      True),
                     (("get", "configmaps", "-n", "dev", "-o", "json"), True),
                     (("--as=x", "get", "pods", "-n", "dev"), False),
                     (("apply", "-f", str(secret_yaml)), True),
                     (("create", "secret", "generic", "made", "-n", "dev",
                       f"--from-literal=token={DEMO_SECRET_VALUES[1]}"), True),
                     (("logs", "-n", "dev", "deploy/web"), False),
                     (("delete", "secret", "made", "-n", "dev"), True)):
        n, _ = _run_counted(kubectl, kc, *args, ok=ok)
        assert n, f"kubectl {args} logged no requests"
        calls += n
    return calls


def _requests(path: Path) -> list[dict[str, Any]]:
    return [r for r in records(path) if r["kind"] == "request"]


@pytest.mark.timeout(180)
def test_one_record_per_call_denials_included_and_the_log_verifies(
        logged: Logged, kubectl: KubectlRunner, tmp_path: Path,
        sessions_cli: Callable[[Path], SessionsCli]) -> None:
    calls = _session(logged, kubectl, tmp_path)
    cli = sessions_cli(logged.home)
    live = cli("verify", logged.session_id)
    assert live.exit_code == 2 and "not sealed" in live.output, live.output
    logged.stop()
    reqs = _requests(logged.log_path)
    assert len(reqs) == calls
    assert any(r["path"] in ("/api", "/apis") for r in reqs)  # discovery is recorded too
    denied = [r for r in reqs if r["decision"] == "deny"]
    assert denied and all(r["status"] == 403 for r in denied)
    imp = next(r for r in denied if r.get("rule") == "no-impersonation")
    assert imp["impersonate"] == "x" and imp["verb"] == "list" and imp["resource"] == "pods"
    assert imp["command"] == "kubectl get"  # kubectl's Kubectl-Command header
    get_secret = next(r for r in reqs if r.get("name") == "db-credentials")
    assert get_secret["masked"] >= 1 and get_secret["namespace"] == "prod-payments"
    applied = [r for r in reqs if r["method"] in ("POST", "PATCH")
               and isinstance(r.get("body"), dict) and not r["body"].get("protobuf")]
    assert applied and all("kgate:masked:" in orjson.dumps(r["body"]).decode()
                           for r in applied)
    created = next(r for r in reqs if r["method"] == "POST" and r.get("resource") == "secrets"
                   and r["body"].get("bytes"))  # kubectl 1.32 sends it as protobuf
    assert created["body"].get("protobuf") is True and "sha256" in created["body"]
    assert all(isinstance(r["ms"], float) and r["ms"] >= 0 for r in reqs)
    assert all(r.get("kubectl_session") for r in reqs if r.get("command"))

    verified = cli("verify", logged.session_id)
    assert verified.exit_code == 0 and "intact and sealed" in verified.output, verified.output
    listed = orjson.loads(cli("list", "--json").stdout)
    [row] = [r for r in listed if r["id"] == logged.session_id]
    assert row["calls"] == calls and row["denied"] == len(denied) and row["sealed"] is True
    assert row["masked"] >= 1 and row["identity"].startswith("local:")
    assert set(row) == {"id", "grant", "identity", "started_at", "ended_at", "calls",
                        "denied", "held", "masked", "sealed"}
    shown = cli("show", "--denied")
    assert shown.exit_code == 0 and "no-impersonation" in shown.output
    assert "db-credentials" not in shown.output  # --denied shows only refused calls
    table = cli("list")
    assert logged.session_id in table.output and "sealed" in table.output
    _assert_no_secret_under(logged.home)


def _secret_forms(value: str) -> list[bytes]:
    """The value raw, and base64-encoded at each of the three alignments."""
    forms = [value.encode()]
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + value.encode())
        inner = encoded[4 if pad else 0:-4]
        if len(inner) >= 12:
            forms.append(inner)
    return forms


def _assert_no_secret_under(home: Path) -> None:
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".jsonl" for p in files) and any(p.name == "kgate.db" for p in files)
    for path in files:
        data = path.read_bytes()
        for i, value in enumerate(DEMO_SECRET_VALUES):
            for form in _secret_forms(value):
                # never print the value itself: name the seeded value by its index
                assert form not in data, f"seeded secret #{i} found in {path.name}"


def _check_event_schema(doc: dict[str, Any]) -> None:
    """The audit.k8s.io/v1 EventList fields and types kube-apiserver's schema requires."""
    assert doc["kind"] == "EventList" and doc["apiVersion"] == "audit.k8s.io/v1"
    assert isinstance(doc["metadata"], dict) and isinstance(doc["items"], list)
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
    required = {"level": str, "auditID": str, "stage": str, "requestURI": str, "verb": str,
                "user": dict, "requestReceivedTimestamp": str, "stageTimestamp": str}
    optional = {"impersonatedUser": dict, "sourceIPs": list, "userAgent": str,
                "objectRef": dict, "responseStatus": dict, "requestObject": dict,
                "responseObject": dict, "annotations": dict}
    for event in doc["items"]:
        assert event["kind"] == "Event" and event["apiVersion"] == "audit.k8s.io/v1"
        for key, kind in required.items():
            assert isinstance(event[key], kind), key
        for key in set(event) - set(required) - {"kind", "apiVersion"}:
            assert key in optional, f"unknown Event field {key}"
            assert isinstance(event[key], optional[key]), key
        assert event["level"] in ("None", "Metadata", "Request", "RequestResponse")
        assert event["stage"] in ("RequestReceived", "ResponseStarted", "ResponseComplete",
                                  "Panic")
        assert re.fullmatch(r"[0-9a-f-]{36}", event["auditID"])
        assert stamp.match(event["requestReceivedTimestamp"])
        assert stamp.match(event["stageTimestamp"])
        assert event["stageTimestamp"] >= event["requestReceivedTimestamp"]
        assert isinstance(event["user"]["username"], str)
        for values in event["user"].get("extra", {}).values():
            assert isinstance(values, list) and all(isinstance(v, str) for v in values)
        ref = event.get("objectRef", {})
        assert set(ref) <= {"resource", "namespace", "name", "uid", "apiGroup", "apiVersion",
                            "resourceVersion", "subresource"}
        assert all(isinstance(v, str) for v in ref.values())
        status = event["responseStatus"]
        assert isinstance(status["code"], int) and isinstance(status["metadata"], dict)
        assert all(isinstance(k, str) and isinstance(v, str)
                   for k, v in event["annotations"].items())


@pytest.mark.timeout(180)
def test_export_is_a_valid_audit_event_list(logged: Logged, kubectl: KubectlRunner,
                                            tmp_path: Path,
                                            sessions_cli: Callable[[Path], SessionsCli]
                                            ) -> None:
    kubectl("get", "pods", "-n", "dev", kubeconfig=logged.kubeconfig)
    kubectl("--as=mallory", "delete", "secret", "api-token", "-n", "dev",
            kubeconfig=logged.kubeconfig, check=False)
    logged.stop()
    cli = sessions_cli(logged.home)
    exported = cli("export", logged.session_id, "--format", "k8s-audit")
    assert exported.exit_code == 0
    doc = orjson.loads(exported.stdout)
    _check_event_schema(doc)
    assert len(doc["items"]) == len(_requests(logged.log_path))
    denied = next(e for e in doc["items"] if e["annotations"]["kgate.dev/decision"] == "deny")
    assert denied["impersonatedUser"] == {"username": "mallory"}
    assert denied["verb"] == "delete" and denied["responseStatus"]["code"] == 403
    assert denied["objectRef"] == {"resource": "secrets", "namespace": "dev",
                                   "name": "api-token", "apiVersion": "v1"}
    assert denied["annotations"]["kgate.dev/rule"] == "no-impersonation"
    assert denied["annotations"]["authorization.k8s.io/decision"] == "forbid"
    assert denied["user"]["extra"]["kgate.dev/session"] == [logged.session_id]
    raw = cli("export", logged.session_id, "--format", "jsonl")
    assert raw.stdout_bytes == logged.log_path.read_bytes()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("transport", ["websocket", "spdy"])
def test_a_recorded_exec_replays_masked_and_is_pinned_by_the_log(
        logged: Logged, kubectl: KubectlRunner, tmp_path: Path,
        sessions_cli: Callable[[Path], SessionsCli], transport: str) -> None:
    """Over WebSocket (kubectl's default) and SPDY/3.1 (what kubectl 1.29 and older speak, and
    what 1.30+ falls back to): an agent must not leave its recording by choosing the protocol."""
    kc = logged.kubeconfig
    spdy = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"} if transport == "spdy" else None
    pod = tmp_path / "shell.yaml"
    pod.write_text(SHELL_POD.replace("@@SECRET@@", GITHUB_TOKEN))
    kubectl("apply", "-f", str(pod), kubeconfig=kc)
    kubectl("wait", "--for=condition=Ready", "pod/shell", "-n", "dev", "--timeout=20s",
            kubeconfig=kc)
    out = kubectl("exec", "-i", "shell", "-n", "dev", "--", "sh", "-c",
                  "echo got; cat; echo token $GITHUB_TOKEN", input="hello-there\n",
                  kubeconfig=kc, extra_env=spdy).stdout
    assert "got\nhello-there\n" in out and GITHUB_TOKEN not in out
    logged.stop()
    cli = sessions_cli(logged.home)
    reqs = _requests(logged.log_path)
    exec_record = next(r for r in reqs if r.get("subresource") == "exec")
    assert exec_record["upgraded"] and exec_record["recording"].endswith(".cast")
    kinds = [r["kind"] for r in records(logged.log_path)]
    assert "stream-open" in kinds and "stream-close" in kinds
    played = cli("play", logged.session_id, "--no-wait")
    assert played.exit_code == 0, played.output
    assert "got\nhello-there\n" in played.stdout and "token kgate:masked:" in played.stdout
    assert GITHUB_TOKEN not in played.stdout
    cast = logged.home / "sessions" / exec_record["recording"]
    lines = [orjson.loads(x) for x in cast.read_bytes().splitlines()]
    assert lines[0]["version"] == 2
    assert any(e[1] == "i" and "hello-there" in e[2] for e in lines[1:])
    assert cast.stat().st_mode & 0o777 == 0o600
    assert cli("verify", logged.session_id).exit_code == 0
    cast.write_bytes(cast.read_bytes().replace(b"hello-there", b"HELLO-there"))
    tampered = cli("verify", logged.session_id)
    assert tampered.exit_code == 1 and "recording" in tampered.output
    _assert_no_secret_under(logged.home)


@pytest.mark.timeout(120)
def test_show_follow_tails_a_live_session_until_it_ends(
        logged: Logged, kubectl: KubectlRunner,
        sessions_cli: Callable[[Path], SessionsCli]) -> None:
    import threading
    result: list[Any] = []
    follower = threading.Thread(
        target=lambda: result.append(sessions_cli(logged.home)("show", logged.session_id,
                                                               "--follow")))
    follower.start()
    try:
        kubectl("--as=eve", "get", "pods", "-n", "dev", kubeconfig=logged.kubeconfig,
                check=False)
    finally:
        logged.stop()  # the end record ends the follow
        follower.join(30)
    assert not follower.is_alive() and result and result[0].exit_code == 0
    out = result[0].output
    assert "no-impersonation" in out and "sealed:" in out
