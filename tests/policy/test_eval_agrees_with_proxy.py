"""``kgate policy eval`` and the proxy decide alike: one table, sent both ways.

Each row describes one request twice — as the HTTP request an agent would send (method, path,
query, headers, body) and as ``kgate policy eval`` flags — written independently, so a mistake
in how eval builds its request would show as a disagreement. The proxy's answer is read from its
exchange record (decision and rule); eval's from ``--json``.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgate.cli import app
from kgate.policy import parse_policy
from kgate.policy.loader import default_policy_text
from kgate.proxy.runner import RunningProxy
from kgate.proxy.stages.audit import MemoryAudit
from tests.fixtures.proxy import Proxied, start_proxy_thread

EXTRA_RULES = """\
  - name: no-host-network
    match: {verbs: [create], resources: [pods], body: {spec: {hostNetwork: true}}}
    action: deny
    message: no host networking
  - name: no-kube-system-writes
    match: {verbs: [create, update, patch, delete], namespaces: ["kube-*"]}
    action: deny
"""
POLICY = default_policy_text().replace("holdTimeout: 60s", "holdTimeout: 1s").replace(
    "\nbuiltins:\n", f"\n{EXTRA_RULES}builtins:\n")

JSON = "application/json"
MERGE = "application/merge-patch+json"
NS = "/api/v1/namespaces/default"
APPS = "/apis/apps/v1/namespaces/default"
RBAC = "/apis/rbac.authorization.k8s.io/v1"
WS = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Protocol": "v5.channel.k8s.io"}
SPDY = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
        "X-Stream-Protocol-Version": "v4.channel.k8s.io"}


def _field(number: int, payload: bytes) -> bytes:
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def _pb_secret(name: str, kind_of_secret: str) -> bytes:
    meta = _field(1, name.encode()) + _field(3, b"default")
    raw = _field(1, meta) + _field(3, kind_of_secret.encode())
    return b"k8s\x00" + _field(1, _field(1, b"v1") + _field(2, b"Secret")) + _field(2, raw)


def _obj(**kw: object) -> bytes:
    return json.dumps(kw).encode()


@dataclass(frozen=True)
class Row:
    want: tuple[str, str | None]             # (decision, rule) both must give
    method: str
    path: str
    flags: list[str]
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    ctype: str = ""


SA_TOKEN = "kubernetes.io/service-account-token"
ROWS = [
    Row(("allow", None), "GET", f"{NS}/pods", ["--verb", "list", "--resource", "pods",
                                               "-n", "default"]),
    Row(("allow", None), "GET", f"{NS}/pods/x", ["--verb", "get", "--resource", "pods",
                                                 "-n", "default", "--name", "x"]),
    Row(("allow", None), "GET", f"{NS}/pods", ["--verb", "watch", "--resource", "pods",
                                               "-n", "default"], query="watch=1&timeoutSeconds=1"),
    Row(("allow", None), "GET", f"{NS}/secrets", ["--verb", "list", "--resource", "secrets",
                                                  "-n", "default"]),
    Row(("deny", "no-namespace-delete"), "DELETE", "/api/v1/namespaces/prod",
        ["--verb", "delete", "--resource", "namespaces", "--name", "prod"]),
    Row(("deny", "no-namespace-delete"), "DELETE", "/api/v1/namespaces",
        ["--verb", "deletecollection", "--resource", "namespaces"]),
    Row(("deny", "no-namespace-delete"), "DELETE", "/api/v1/namespaces/prod",
        ["--verb", "delete", "--resource", "namespaces", "--name", "prod", "--dry-run"],
        query="dryRun=All"),
    Row(("review", "review-deletes"), "DELETE", f"{APPS}/deployments/web",
        ["--verb", "delete", "--resource", "deployments", "--api-group", "apps", "-n",
         "default", "--name", "web"]),
    Row(("review", "review-deletes"), "DELETE", f"{NS}/configmaps",
        ["--verb", "deletecollection", "--resource", "configmaps", "-n", "default"]),
    Row(("allow", "allow-dry-runs"), "DELETE", f"{NS}/configmaps/c",
        ["--verb", "delete", "--resource", "configmaps", "-n", "default", "--name", "c",
         "--dry-run"], query="dryRun=All"),
    Row(("allow", "allow-dry-runs"), "DELETE", f"{NS}/pods/x",
        ["--verb", "delete", "--resource", "pods", "-n", "default", "--name", "x",
         "--body", "@body", "--content-type", JSON],
        body=_obj(kind="DeleteOptions", apiVersion="v1", dryRun=["All"]), ctype=JSON),
    Row(("review", "review-deletes"), "DELETE", f"{NS}/pods/x",
        ["--verb", "delete", "--resource", "pods", "-n", "default", "--name", "x",
         "--body", "@body", "--content-type", JSON],
        body=_obj(kind="DeleteOptions", apiVersion="v1", propagationPolicy="Background"),
        ctype=JSON),
    Row(("review", "review-deletes"), "DELETE", f"{NS}/pods/x",
        ["--verb", "delete", "--resource", "pods", "-n", "default", "--name", "x",
         "--dry-run", "--body", "@body", "--content-type", JSON], query="dryRun=All",
        body=_obj(kind="DeleteOptions", apiVersion="v1", propagationPolicy="Background"),
        ctype=JSON),
    Row(("review", "review-scale"), "PATCH", f"{APPS}/deployments/web/scale",
        ["--verb", "patch", "--resource", "deployments", "--subresource", "scale",
         "--api-group", "apps", "-n", "default", "--name", "web", "--body", "@body",
         "--content-type", MERGE], body=_obj(spec={"replicas": 3}), ctype=MERGE),
    Row(("review", "review-scale"), "PUT", f"{APPS}/deployments/web/scale",
        ["--verb", "update", "--resource", "deployments", "--subresource", "scale",
         "--api-group", "apps", "-n", "default", "--name", "web", "--body", "@body"],
        body=_obj(kind="Scale", apiVersion="autoscaling/v1", metadata={"name": "web"},
                  spec={"replicas": 2}), ctype=JSON),
    Row(("allow", None), "PATCH", f"{APPS}/deployments/web",
        ["--verb", "patch", "--resource", "deployments", "--api-group", "apps", "-n",
         "default", "--name", "web", "--body", "@body", "--content-type", MERGE],
        body=_obj(metadata={"labels": {"a": "b"}}), ctype=MERGE),
    Row(("review", "review-exec"), "GET", f"{NS}/pods/x/exec",
        ["--verb", "create", "--resource", "pods", "--subresource", "exec", "-n", "default",
         "--name", "x"], query="command=sh&stdout=true", headers=WS),
    Row(("review", "review-exec"), "POST", f"{NS}/pods/x/exec",
        ["--verb", "create", "--resource", "pods", "--subresource", "exec", "-n", "default",
         "--name", "x", "--header", "Upgrade:SPDY/3.1"], query="command=sh&stdout=true",
        headers=SPDY),
    Row(("deny", "mask-exec-output"), "POST", f"{NS}/pods/x/exec",
        ["--verb", "create", "--resource", "pods", "--subresource", "exec", "-n", "default",
         "--name", "x", "--header", "Upgrade:h2c"], query="command=sh&stdout=true",
        headers={"Connection": "Upgrade", "Upgrade": "h2c"}),
    Row(("review", "review-exec"), "GET", f"{NS}/pods/x/attach",
        ["--verb", "create", "--resource", "pods", "--subresource", "attach", "-n", "default",
         "--name", "x"], query="stdout=true", headers=WS),
    Row(("review", "review-exec"), "GET", f"{NS}/pods/x/portforward",
        ["--verb", "create", "--resource", "pods", "--subresource", "portforward", "-n",
         "default", "--name", "x"], query="ports=80", headers=WS),
    Row(("deny", "no-token-request"), "POST", f"{NS}/serviceaccounts/default/token",
        ["--verb", "create", "--resource", "serviceaccounts", "--subresource", "token", "-n",
         "default", "--name", "default", "--body", "@body"],
        body=_obj(kind="TokenRequest", apiVersion="authentication.k8s.io/v1", spec={}),
        ctype=JSON),
    Row(("deny", "no-sa-token-secrets"), "POST", f"{NS}/secrets",
        ["--verb", "create", "--resource", "secrets", "-n", "default", "--body", "@body"],
        body=_obj(kind="Secret", apiVersion="v1", metadata={"name": "t"}, type=SA_TOKEN),
        ctype=JSON),
    Row(("deny", "no-sa-token-secrets"), "POST", f"{NS}/secrets",
        ["--verb", "create", "--resource", "secrets", "-n", "default", "--body", "@body"],
        body=_pb_secret("t", SA_TOKEN), ctype="application/vnd.kubernetes.protobuf"),
    Row(("allow", None), "POST", f"{NS}/secrets",
        ["--verb", "create", "--resource", "secrets", "-n", "default", "--body", "@body"],
        body=_pb_secret("plain", "Opaque"), ctype="application/vnd.kubernetes.protobuf"),
    Row(("allow", None), "POST", f"{NS}/secrets",
        ["--verb", "create", "--resource", "secrets", "-n", "default", "--body", "@body"],
        body=_obj(kind="Secret", apiVersion="v1", metadata={"name": "o"}, type="Opaque"),
        ctype=JSON),
    Row(("deny", "no-csr"), "POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests",
        ["--verb", "create", "--resource", "certificatesigningrequests", "--api-group",
         "certificates.k8s.io", "--body", "@body"],
        body=_obj(kind="CertificateSigningRequest", apiVersion="certificates.k8s.io/v1",
                  metadata={"name": "c"}), ctype=JSON),
    Row(("deny", "no-csr"), "PUT",
        "/apis/certificates.k8s.io/v1/certificatesigningrequests/c/approval",
        ["--verb", "update", "--resource", "certificatesigningrequests", "--subresource",
         "approval", "--api-group", "certificates.k8s.io", "--name", "c", "--body", "@body"],
        body=_obj(kind="CertificateSigningRequest", metadata={"name": "c"}), ctype=JSON),
    Row(("deny", "no-rbac-escalation"), "POST", f"{RBAC}/clusterrolebindings",
        ["--verb", "create", "--resource", "clusterrolebindings", "--api-group",
         "rbac.authorization.k8s.io", "--body", "@body"],
        body=_obj(kind="ClusterRoleBinding", metadata={"name": "b"},
                  roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": "cluster-admin"},
                  subjects=[{"kind": "User", "name": "agent"}]), ctype=JSON),
    Row(("allow", None), "POST", f"{RBAC}/clusterrolebindings",
        ["--verb", "create", "--resource", "clusterrolebindings", "--api-group",
         "rbac.authorization.k8s.io", "--body", "@body"],
        body=_obj(kind="ClusterRoleBinding", metadata={"name": "v"},
                  roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": "view"},
                  subjects=[{"kind": "User", "name": "agent"}]), ctype=JSON),
    Row(("deny", "no-rbac-escalation"), "POST", f"{RBAC}/clusterroles",
        ["--verb", "create", "--resource", "clusterroles", "--api-group",
         "rbac.authorization.k8s.io", "--body", "@body"],
        body=_obj(kind="ClusterRole", metadata={"name": "god"},
                  rules=[{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
        ctype=JSON),
    Row(("allow", None), "POST", f"{RBAC}/namespaces/default/roles",
        ["--verb", "create", "--resource", "roles", "--api-group",
         "rbac.authorization.k8s.io", "-n", "default", "--body", "@body"],
        body=_obj(kind="Role", metadata={"name": "reader"},
                  rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
        ctype=JSON),
    Row(("deny", "no-proxy-subresources"), "GET", f"{NS}/pods/x/proxy/",
        ["--verb", "get", "--resource", "pods", "--subresource", "proxy", "-n", "default",
         "--name", "x"]),
    Row(("deny", "no-proxy-subresources"), "GET", f"{NS}/services/web/proxy",
        ["--verb", "get", "--resource", "services", "--subresource", "proxy", "-n", "default",
         "--name", "web"]),
    Row(("deny", "no-node-access"), "GET", "/api/v1/nodes/n1/proxy/logs/",
        ["--verb", "get", "--resource", "nodes", "--subresource", "proxy", "--name", "n1"]),
    Row(("deny", "no-node-access"), "GET", "/api/v1/nodes/n1/log",
        ["--verb", "get", "--resource", "nodes", "--subresource", "log", "--name", "n1"]),
    Row(("deny", "no-ephemeral-containers"), "PATCH", f"{NS}/pods/x/ephemeralcontainers",
        ["--verb", "patch", "--resource", "pods", "--subresource", "ephemeralcontainers",
         "-n", "default", "--name", "x", "--body", "@body", "--content-type",
         "application/strategic-merge-patch+json"],
        body=_obj(spec={"ephemeralContainers": [{"name": "d", "image": "busybox"}]}),
        ctype="application/strategic-merge-patch+json"),
    Row(("deny", "mask-nonresource"), "GET", "/logs/", ["--path", "/logs/"]),
    Row(("deny", "mask-nonresource"), "GET", "/metrics", ["--path", "/metrics"]),
    Row(("deny", "no-impersonation"), "GET", f"{NS}/pods",
        ["--verb", "list", "--resource", "pods", "-n", "default", "--header",
         "Impersonate-User:admin"], headers={"Impersonate-User": "admin"}),
    Row(("deny", "no-placeholder-writes"), "POST", f"{NS}/configmaps",
        ["--verb", "create", "--resource", "configmaps", "-n", "default", "--body", "@body"],
        body=_obj(kind="ConfigMap", apiVersion="v1", metadata={"name": "m"},
                  data={"k": "kgate:masked:3f9a1c2e"}), ctype=JSON),
    Row(("allow", None), "POST", f"{APPS}/deployments",
        ["--verb", "create", "--resource", "deployments", "--api-group", "apps", "-n",
         "default", "--body", "@body"],
        body=_obj(kind="Deployment", apiVersion="apps/v1", metadata={"name": "d"}),
        ctype=JSON),
    Row(("allow", None), "PATCH", f"{NS}/configmaps/c",
        ["--verb", "patch", "--resource", "configmaps", "-n", "default", "--name", "c",
         "--body", "@body", "--content-type", MERGE], body=_obj(data={"a": "b"}), ctype=MERGE),
    Row(("deny", "no-host-network"), "POST", f"{NS}/pods",
        ["--verb", "create", "--resource", "pods", "-n", "default", "--body", "@body"],
        body=_obj(kind="Pod", apiVersion="v1", metadata={"name": "h"},
                  spec={"hostNetwork": True, "containers": [{"name": "c", "image": "x"}]}),
        ctype=JSON),
    Row(("allow", None), "POST", f"{NS}/pods",
        ["--verb", "create", "--resource", "pods", "-n", "default", "--body", "@body"],
        body=_obj(kind="Pod", apiVersion="v1", metadata={"name": "ok"},
                  spec={"containers": [{"name": "c", "image": "x"}]}), ctype=JSON),
    Row(("deny", "no-kube-system-writes"), "POST", "/api/v1/namespaces/kube-system/configmaps",
        ["--verb", "create", "--resource", "configmaps", "-n", "kube-system", "--body", "@body"],
        body=_obj(kind="ConfigMap", apiVersion="v1", metadata={"name": "k"}), ctype=JSON),
    Row(("allow", None), "GET", "/version", ["--path", "/version"]),
    Row(("allow", None), "GET", "/apis", ["--path", "/apis"]),
    Row(("deny", "no-proxy-subresources"), "GET", f"{NS}/pods/x/proxy/metrics",
        ["--path", f"{NS}/pods/x/proxy/metrics"]),
]


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def gate(proxied: Proxied, policy_file: Path, tmp_path: Path
         ) -> Iterator[tuple[RunningProxy, MemoryAudit]]:
    thread, proxy, audit = start_proxy_thread(
        proxied.upstream_kubeconfig, tmp_path / "eval-home",
        policy=parse_policy(policy_file.read_text(), str(policy_file)))
    try:
        yield proxy, audit
    finally:
        thread.stop()


def _send(proxy: RunningProxy, row: Row) -> None:
    ctx = ssl.create_default_context(cadata=proxy.ca_pem.decode())
    conn = http.client.HTTPSConnection("127.0.0.1", proxy.port, context=ctx, timeout=30)
    headers = {"Authorization": f"Bearer {proxy.session.token}", **row.headers}
    if row.ctype:
        headers["Content-Type"] = row.ctype
    try:
        conn.request(row.method, row.path + (f"?{row.query}" if row.query else ""),
                     body=row.body, headers=headers)
        conn.getresponse().read()
    finally:
        conn.close()


def _proxy_decision(proxy: RunningProxy, audit: MemoryAudit, row: Row
                    ) -> tuple[str, str | None]:
    before = len(audit.exchanges)
    _send(proxy, row)
    deadline = time.monotonic() + 10
    while len(audit.exchanges) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    record = audit.exchanges[-1]
    return record.decision, record.rule


def _eval_decision(row: Row, policy_file: Path, tmp_path: Path) -> tuple[str, str | None]:
    flags = list(row.flags)
    if "@body" in flags:
        assert row.body is not None
        body = tmp_path / "body"
        body.write_bytes(row.body)
        flags[flags.index("@body")] = str(body)
    result = CliRunner().invoke(app, ["policy", "eval", *flags, "--policy", str(policy_file),
                                      "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    return out["decision"], out["rule"]


def test_the_table_is_big_enough() -> None:
    assert len(ROWS) >= 40
    assert {r.want[0] for r in ROWS} == {"allow", "deny", "review"}


def test_eval_agrees_with_the_proxy(gate: tuple[RunningProxy, MemoryAudit], policy_file: Path,
                                    tmp_path: Path) -> None:
    proxy, audit = gate
    disagreements = []
    for row in ROWS:
        seen = _proxy_decision(proxy, audit, row)
        if seen != row.want:
            disagreements.append(f"proxy {row.method} {row.path}: {seen}, expected {row.want}")
        said = _eval_decision(row, policy_file, tmp_path)
        if said != row.want:
            disagreements.append(f"eval {' '.join(row.flags)}: {said}, expected {row.want}")
    assert not disagreements, "\n".join(disagreements)
