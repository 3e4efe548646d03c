"""Real kubectl 1.32 through ``kgate proxy``: the places nobody walked (class 4), a TokenRequest
(critical #2), and the three routine commands that used to be refused (over-blocking).

Objects are created with the sandbox admin's kubeconfig (straight to the sandbox, as the cluster's
owner would have); the agent's kubectl goes through the proxy. Nothing kubectl prints through the
proxy may hold a planted value in any form (``leaks.assert_no_leak``); the over-blocked commands
must succeed and leave the *real* values in the sandbox's store.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from kgate.policy import parse_policy
from kgate.sandbox.runner import ADMIN_TOKEN
from tests.attacks.leaks import assert_no_leak, leaks
from tests.attacks.rawhttp import raw_request
from tests.fixtures.kube import KubectlRunner
from tests.fixtures.proxy import Proxied, start_proxy_thread
from tests.protowire import pb

pytestmark = pytest.mark.timeout(180)

PW = "Cl4ss4-Pl4nted-Pw-7731"
ARG_PW = "Arg-Pl4nted-Pw-5512"
HEADER_TOKEN = "Hdr-Bearer-Tok-88213x"
CM_PW = "Cm-Key-Pl4nted-Pw-2290"
SC_PW = "Sc-Param-Pw-Pl4nted-1187"
CR_PW = "Cr-Spec-Pw-Pl4nted-6642"
EVENT_PW = "Ev-Reason-Pw-Pl4nted-33"
LABEL_PW = "Lbl-Pw-Pl4nted-9001"
ALL = [PW, ARG_PW, HEADER_TOKEN, CM_PW, SC_PW, CR_PW, EVENT_PW, LABEL_PW]
PLACEHOLDER = re.compile(r"^kgate:masked:[0-9a-f]{8}$")


def _container(name: str = "app") -> dict[str, Any]:
    probe = {"httpGet": {"path": "/healthz", "port": 8080, "httpHeaders": [
        {"name": "Authorization", "value": f"Bearer {HEADER_TOKEN}"}]}}
    return {"name": name, "image": "busybox:1.36",
            "command": ["sh", "-c", "sleep 3600"],
            "args": ["--db-password", ARG_PW],
            "env": [{"name": "DB_PASSWORD", "value": PW}, {"name": "MODE", "value": "prod"}],
            "livenessProbe": probe,
            "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c",
                                                           f"curl -u admin:{ARG_PW} http://x"]}}}}


def _manifests() -> list[dict[str, Any]]:
    meta = {"namespace": "default"}
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [_container()]}}
    return [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-pod", **meta},
         "spec": {"containers": [_container()]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", **meta},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                  "template": template}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", **meta},
         "spec": {"schedule": "0 3 * * *", "jobTemplate": {
             "metadata": {"annotations": {"backup/dsn": f"postgres://app:{PW}@db/x"}},
             "spec": {"template": {"spec": {"restartPolicy": "Never",
                                            "containers": [_container("job")]}}}}}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "app-env", "labels": {"db-password": LABEL_PW}, **meta},
         "data": {"DB_PASSWORD": CM_PW, "MYSQL_PWD": CM_PW, "mode": "production"}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"name": "nfs-fast"}, "provisioner": "example.com/nfs",
         "parameters": {"server": "nfs.example.com", "password": SC_PW}},
        {"apiVersion": "v1", "kind": "Event",
         "metadata": {"name": "web.1", **meta}, "reason": f"LoginFailed password={EVENT_PW}",
         "message": "login failed", "type": "Warning",
         "involvedObject": {"kind": "Pod", "name": "web-pod", "namespace": "default"}},
    ]


def _admin(proxied: Proxied, tmp_path: Path) -> Path:
    return proxied.sandbox.write_kubeconfig(tmp_path / "admin" / "config", token=ADMIN_TOKEN)


def _store(proxied: Proxied, group: str, resource: str, name: str) -> Any:
    return proxied.sandbox.run(
        lambda: proxied.sandbox.store.get(group, resource, "default", name))


def _agent(kubectl: KubectlRunner, proxied: Proxied, *args: str, ok: bool = True,
           input: str | None = None, kubeconfig: Path | None = None
           ) -> subprocess.CompletedProcess[str]:
    """kubectl through the proxy; a failure message shows stderr with secrets cut out."""
    proc = kubectl(*args, kubeconfig=kubeconfig or proxied.kubeconfig, check=False,
                   input=input)
    if ok and proc.returncode != 0:
        err = proc.stderr
        for s in ALL:
            err = err.replace(s, "<planted>")
        shown_leaks = leaks(proc.stdout + proc.stderr, ALL)
        raise AssertionError(f"kubectl {' '.join(args)} exited {proc.returncode}: "
                             f"{err[-1500:]} (leaks: {shown_leaks})")
    return proc


@pytest.fixture
def seeded(proxied: Proxied, kubectl: KubectlRunner, tmp_path: Path) -> Path:
    admin = _admin(proxied, tmp_path)
    manifest = yaml.safe_dump_all(_manifests())
    kubectl("apply", "-f", "-", kubeconfig=admin, input=manifest)
    return admin


#: A user who relaxed the no-token-request guardrail: masking must still hold (defence in depth).
TOKENS_ALLOWED = parse_policy("apiVersion: kgate.dev/v1\nkind: Policy\n"
                              "builtins: {disable: [no-token-request]}\n", "tokens-allowed.yaml")


def test_create_token_is_denied_and_masked_even_when_allowed(
        proxied: Proxied, kubectl: KubectlRunner, tmp_path: Path) -> None:
    """Critical #2: a TokenRequest is denied by default, and where a user allows it, the reply's
    ``status.token`` still never reaches the agent."""
    proc = _agent(kubectl, proxied, "create", "token", "default", ok=False)
    assert proc.returncode != 0 and "denied by rule no-token-request" in proc.stderr
    thread, proxy, _ = start_proxy_thread(proxied.upstream_kubeconfig, proxied.home,
                                          policy=TOKENS_ALLOWED)
    try:
        kc = proxy.write_kubeconfig(tmp_path / "tokens" / "kubeconfig")
        proc = _agent(kubectl, proxied, "create", "token", "default", kubeconfig=kc)
        token = proc.stdout.strip()
        assert PLACEHOLDER.match(token), "kubectl create token printed something else"
        proc = _agent(kubectl, proxied, "create", "token", "default", "-o", "json",
                      kubeconfig=kc)
        status = orjson.loads(proc.stdout)["status"]
        assert PLACEHOLDER.match(status["token"])
        assert "eyJ" not in proc.stdout
    finally:
        thread.stop()


@pytest.mark.parametrize("args", [
    ("get", "pods,deployments,cronjobs,configmaps,events,replicasets", "-o", "json"),
    ("get", "pods,deployments,cronjobs,configmaps,events", "-o", "yaml"),
    ("get", "storageclass", "nfs-fast", "-o", "json"),
    ("get", "controllerrevisions,replicasets", "-A", "-o", "json"),
    ("describe", "pod", "web-pod"),
    ("describe", "deployment", "web"),
    ("describe", "configmap", "app-env"),
    ("describe", "storageclass", "nfs-fast"),
    ("get", "events", "-o", "wide"),
    ("get", "configmaps", "--show-labels"),
    ("get", "pods", "-o", "jsonpath={.items[*].spec.containers[*].args}"),
])
def test_class4_places_never_leak(seeded: Path, proxied: Proxied, kubectl: KubectlRunner,
                                  args: tuple[str, ...]) -> None:
    proc = _agent(kubectl, proxied, *args)
    assert proc.stdout.strip(), "kubectl printed nothing"
    assert_no_leak(proc.stdout + proc.stderr, ALL, where=" ".join(args))


def _wait(check: Any, what: str, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _env(obj: dict[str, Any], *path: str) -> dict[str, str]:
    node: Any = obj
    for p in path:
        node = node[p]
    return {e["name"]: e.get("value", "") for e in node["containers"][0]["env"]}


def test_rollout_undo_restores_real_values(seeded: Path, proxied: Proxied,
                                           kubectl: KubectlRunner) -> None:
    kubectl("set", "image", "deployment/web", "app=busybox:1.37", kubeconfig=seeded)
    _wait(lambda: len([1 for rs in proxied.sandbox.run(
        lambda: proxied.sandbox.store.list("apps", "replicasets", "default"))
        if rs["metadata"]["name"].startswith("web-")]) >= 2, "a second ReplicaSet")
    proc = _agent(kubectl, proxied, "rollout", "undo", "deployment/web")
    assert_no_leak(proc.stdout + proc.stderr, ALL)
    dep = _store(proxied, "apps", "deployments", "web")
    spec = dep["spec"]["template"]["spec"]
    assert spec["containers"][0]["image"] == "busybox:1.36", "undo did not roll back"
    assert _env(dep, "spec", "template", "spec")["DB_PASSWORD"] == PW
    assert spec["containers"][0]["args"] == ["--db-password", ARG_PW]


def test_create_job_from_cronjob_restores_real_values(seeded: Path, proxied: Proxied,
                                                      kubectl: KubectlRunner) -> None:
    proc = _agent(kubectl, proxied, "create", "job", "manual", "--from=cronjob/nightly")
    assert_no_leak(proc.stdout + proc.stderr, ALL)
    job = _store(proxied, "batch", "jobs", "manual")
    assert _env(job, "spec", "template", "spec")["DB_PASSWORD"] == PW
    assert job["metadata"]["annotations"]["backup/dsn"] == f"postgres://app:{PW}@db/x"


def test_debug_copy_to_restores_real_values(seeded: Path, proxied: Proxied,
                                            kubectl: KubectlRunner) -> None:
    proc = _agent(kubectl, proxied, "debug", "web-pod", "--copy-to=web-copy",
                  "--image=busybox:1.36", "--container=debugger", "--", "true")
    assert_no_leak(proc.stdout + proc.stderr, ALL)
    pod = _store(proxied, "", "pods", "web-copy")
    assert pod is not None, "the copy was not created"
    assert _env(pod, "spec")["DB_PASSWORD"] == PW
    assert pod["spec"]["containers"][0]["args"] == ["--db-password", ARG_PW]


def _post_protobuf(proxied: Proxied, namespace: str, body: bytes) -> tuple[int, str]:
    """POST a protobuf Pod through the proxy, as kubectl's typed client would."""
    reply = raw_request(proxied, "POST", f"/api/v1/namespaces/{namespace}/pods",
                        [("Content-Type", "application/vnd.kubernetes.protobuf"),
                         ("Accept", "application/json")], body)
    head, _, text = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), text.decode("utf-8", "replace")


def test_protobuf_write_backs_outside_their_slot_are_refused(
        seeded: Path, proxied: Proxied, kubectl: KubectlRunner) -> None:
    """Hand-made protobuf Pods (kubectl's wire format) carrying a placeholder the agent read:
    restored at its own slot; refused in an annotation, with a field the schema does not know,
    or in another namespace — and then nothing reaches the cluster."""
    kubectl("create", "namespace", "other", kubeconfig=seeded)
    shown = orjson.loads(_agent(kubectl, proxied, "get", "pod", "web-pod", "-o", "json").stdout)
    ph = _env(shown, "spec")["DB_PASSWORD"]
    assert PLACEHOLDER.match(ph)
    status, text = _post_protobuf(proxied, "default", pb.pod("pb-ok", "default",
                                                             {"DB_PASSWORD": ph}))
    assert status == 201, text
    assert _env(_store(proxied, "", "pods", "pb-ok"), "spec")["DB_PASSWORD"] == PW
    assert_no_leak(text, ALL)
    attacks = {
        "pb-annot": ("default", pb.pod("pb-annot", "default", {"MODE": "x"},
                                       annotations={"stolen": ph})),
        "pb-unknown": ("default", pb.pod("pb-unknown", "default", {"DB_PASSWORD": ph},
                                         spec_extra=pb.vi(99, 1))),
        "pb-other-ns": ("other", pb.pod("pb-other-ns", "other", {"DB_PASSWORD": ph})),
    }
    for name, (namespace, body) in attacks.items():
        status, text = _post_protobuf(proxied, namespace, body)
        assert status == 422 and "masked placeholder" in text, (name, status, text)
        assert_no_leak(text, ALL, where=name)
        stored = proxied.sandbox.run(
            lambda ns=namespace, n=name: proxied.sandbox.store.get("", "pods", ns, n))
        assert stored is None, f"{name} reached the cluster"


def test_placeholder_to_another_field_is_still_refused(seeded: Path, proxied: Proxied,
                                                       kubectl: KubectlRunner) -> None:
    shown = orjson.loads(_agent(kubectl, proxied, "get", "pod", "web-pod", "-o", "json").stdout)
    ph = _env(shown, "spec")["DB_PASSWORD"]
    assert PLACEHOLDER.match(ph)
    patch = orjson.dumps({"metadata": {"labels": {"copied": "x"}, "annotations": {"x": ph}}})
    proc = _agent(kubectl, proxied, "patch", "pod", "web-pod", "--type=merge", "-p",
                  patch.decode(), ok=False)
    assert proc.returncode != 0 and "masked placeholder" in proc.stderr
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stolen"},
          "data": {"DB_PASSWORD": ph}}
    proc = _agent(kubectl, proxied, "apply", "--server-side", "-f", "-", ok=False,
                  input=orjson.dumps(cm).decode())
    assert proc.returncode != 0 and "masked placeholder" in proc.stderr
    assert _store(proxied, "", "configmaps", "stolen") is None
    pod = _store(proxied, "", "pods", "web-pod")
    assert "x" not in (pod["metadata"].get("annotations") or {})


def _rich_pod() -> dict[str, Any]:
    """A pod that uses most of what a pod spec can say, for the transcoding round trip."""
    container = {
        **_container(), "workingDir": "/w",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": "DB_PASSWORD", "value": PW},
                {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {
                    "name": "s", "key": "k", "optional": True}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {
                    "apiVersion": "v1", "fieldPath": "status.podIP"}}},
                {"name": "CPU", "valueFrom": {"resourceFieldRef": {
                    "containerName": "app", "resource": "limits.cpu", "divisor": "1m"}}}],
        "envFrom": [{"prefix": "CM_", "configMapRef": {"name": "app-env"}},
                    {"secretRef": {"name": "s", "optional": False}}],
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}},
        "volumeMounts": [{"name": "creds", "mountPath": "/etc/creds", "readOnly": True},
                         {"name": "tok", "mountPath": "/var/run/tok"}],
        "securityContext": {"runAsUser": 1000, "runAsNonRoot": True,
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "imagePullPolicy": "IfNotPresent", "terminationMessagePolicy": "FallbackToLogsOnError",
        "stdin": True, "tty": True,
    }
    spec = {
        "containers": [container],
        "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["true"]}],
        "volumes": [
            {"name": "creds", "secret": {"secretName": "s", "defaultMode": 256,
                                         "items": [{"key": "k", "path": "k", "mode": 256}]}},
            {"name": "tok", "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 3600,
                                         "path": "token"}},
                {"configMap": {"name": "app-env", "items": [{"key": "mode", "path": "mode"}]}},
                {"downwardAPI": {"items": [{"path": "labels",
                                            "fieldRef": {"fieldPath": "metadata.labels"}}]}}]}},
            {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 0, "dnsPolicy": "ClusterFirst",
        "nodeSelector": {"disk": "ssd"}, "serviceAccountName": "default",
        "automountServiceAccountToken": False,
        "securityContext": {"fsGroup": 2000, "supplementalGroups": [3000, 4000], "sysctls": [
            {"name": "net.ipv4.ip_local_port_range", "value": "1024 65535"}]},
        "hostname": "rich", "subdomain": "svc",
        "affinity": {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "podAffinityTerm": {
                    "labelSelector": {"matchLabels": {"app": "rich"}},
                    "topologyKey": "kubernetes.io/hostname"}}]}},
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                         "effect": "NoExecute", "tolerationSeconds": 300}],
        "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["db"]}],
        "priority": 0, "enableServiceLinks": False, "preemptionPolicy": "PreemptLowerPriority",
        "dnsConfig": {"nameservers": ["1.1.1.1"], "options": [{"name": "ndots", "value": "2"}]},
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                                       "whenUnsatisfiable": "ScheduleAnyway",
                                       "labelSelector": {"matchLabels": {"app": "rich"}}}],
        "imagePullSecrets": [{"name": "regcred"}],
    }
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "rich", "namespace": "default", "labels": {"app": "rich"}},
            "spec": spec}


def test_debug_copy_to_transcodes_a_rich_pod_faithfully(seeded: Path, proxied: Proxied,
                                                        kubectl: KubectlRunner) -> None:
    """kubectl's protobuf copy of a pod that uses most of the pod spec, transcoded to JSON by
    kgate (it carries placeholders): the copy in the cluster has the original's spec, with the
    real values — nothing dropped, renamed or changed on the way."""
    kubectl("apply", "-f", "-", kubeconfig=seeded, input=orjson.dumps(_rich_pod()).decode())
    original = _store(proxied, "", "pods", "rich")
    proc = _agent(kubectl, proxied, "debug", "rich", "--copy-to=rich-copy", "--keep-liveness",
                  "--keep-readiness", "--keep-startup", "--image=busybox:1.36",
                  "--container=debugger", "--", "true")
    assert_no_leak(proc.stdout + proc.stderr, ALL)
    posted = [e for e in proxied.exchanges if e.method == "POST" and e.body is not None
              and e.body.name == "rich-copy"]
    assert [e.body.media_type for e in posted] == ["application/vnd.kubernetes.protobuf"]
    copy = _store(proxied, "", "pods", "rich-copy")
    assert copy is not None, "the copy was not created"
    spec = dict(copy["spec"])
    assert spec.pop("containers")[-1]["name"] == "debugger"
    spec.pop("shareProcessNamespace", None)   # kubectl debug's own change
    want = dict(original["spec"])
    want.pop("containers")
    assert spec == want
    assert copy["spec"]["containers"][:-1] == original["spec"]["containers"]
