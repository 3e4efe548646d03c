"""What the proxy bench lists: a small ConfigMap and ~1 MB of realistic Pods, created via the API.

The pods look like what ``kubectl get pods -o json`` returns from a real namespace, because what a
List costs kgate depends on its shape, not only its size: two containers with args carrying
flags, env vars with secret-looking names holding literals (``DB_PASSWORD``, ``STRIPE_SECRET_KEY``,
``AWS_ACCESS_KEY_ID``, a JWT, a DSN with credentials) beside ``valueFrom`` references, labels,
annotations (including the ``last-applied-configuration`` JSON blob ``kubectl apply`` leaves,
which repeats the spec as a string), probes, resources, volumes and mounts.
"""

from __future__ import annotations

import hashlib
import json
import ssl
from typing import Any

import aiohttp

SMALL_PATH = "/api/v1/namespaces/default/configmaps/small"
PODS_NS = "bulk"
PODLIST_PATH = f"/api/v1/namespaces/{PODS_NS}/pods"
TARGET_BYTES = 1_000_000


def realistic_pod(i: int) -> dict[str, Any]:
    """Pod number ``i`` of a payments-api Deployment (literals differ per pod, like real envs)."""
    h = hashlib.sha256(str(i).encode()).hexdigest()
    app = ["payments-api", "checkout-web", "ledger-worker", "notify"][i % 4]
    name = f"{app}-{h[:10]}-{h[10:15]}"
    labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "payments",
              "app.kubernetes.io/version": f"2.{i % 7}.{i % 13}", "pod-template-hash": h[:10],
              "team": "payments", "tier": "backend" if i % 2 else "frontend"}
    env = [
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "PORT", "value": "8080"},
        {"name": "DB_HOST", "value": "postgres.payments.svc.cluster.local"},
        {"name": "DB_USER", "value": "payments"},
        {"name": "DB_PASSWORD", "value": f"pg-{h[:20]}"},
        {"name": "REDIS_URL", "value": f"redis://:{h[20:36]}@redis.payments.svc:6379/0"},
        {"name": "STRIPE_SECRET_KEY", "value": f"sk_live_{h[:24]}"},
        {"name": "AWS_ACCESS_KEY_ID", "value": "AKIA" + h[:16].upper()},
        {"name": "AWS_SECRET_ACCESS_KEY", "value": h[16:56]},
        {"name": "JWT_SIGNING_KEY", "value": f"eyJhbGciOiJIUzI1NiJ9.{h[:32]}.{h[32:]}"},
        {"name": "SENTRY_DSN", "value": f"https://{h[:32]}@o1.ingest.sentry.io/42"},
        {"name": "FEATURE_FLAGS", "value": "new-checkout,fast-refunds,ledger-v2"},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]
    probe = {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
             "initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 2,
             "failureThreshold": 3, "successThreshold": 1}
    containers = [
        {"name": app, "image": f"registry.example.com/payments/{app}:2.{i % 7}.{i % 13}",
         "args": ["--port=8080", "--log-format=json", "--db-pool-size=20",
                  f"--db-password=pg-{h[:20]}", "--tracing-endpoint=otel-collector:4317",
                  "--enable-feature=ledger-v2"],
         "env": env, "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                               {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
         "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                       "limits": {"cpu": "1", "memory": "512Mi"}},
         "livenessProbe": probe, "readinessProbe": {**probe, "httpGet": {
             "path": "/ready", "port": 8080, "scheme": "HTTP"}},
         "volumeMounts": [{"name": "config", "mountPath": "/etc/app"},
                          {"name": "tls", "mountPath": "/etc/tls", "readOnly": True}],
         "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True,
                             "allowPrivilegeEscalation": False,
                             "capabilities": {"drop": ["ALL"]}}},
        {"name": "envoy", "image": "envoyproxy/envoy:v1.31.2",
         "args": ["-c", "/etc/envoy/envoy.yaml", "--log-level", "warn",
                  "--service-cluster", app],
         "ports": [{"name": "proxy", "containerPort": 15001, "protocol": "TCP"}],
         "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
    ]
    spec = {"containers": containers, "serviceAccountName": app, "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "volumes": [{"name": "config", "configMap": {"name": f"{app}-config"}},
                        {"name": "tls", "secret": {"secretName": f"{app}-tls"}}]}
    annotations = {
        "prometheus.io/scrape": "true", "prometheus.io/port": "9090",
        "checksum/config": h, "kubectl.kubernetes.io/restartedAt": "2026-11-30T08:15:00Z",
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
             "spec": {"containers": [{"name": app, "env": env[:12]}]}}, separators=(",", ":")),
    }
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels, "annotations": annotations},
            "spec": spec}


async def seed(server: str, token: str, ctx: ssl.SSLContext) -> tuple[int, int]:
    """Create the small ConfigMap and ~1 MB of Pods; return (pods, PodList bytes)."""
    hdrs = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
        async def post(path: str, obj: dict[str, Any]) -> None:
            async with s.post(server + path, headers=hdrs, json=obj) as r:
                if r.status not in (200, 201, 409):
                    raise SystemExit(f"seeding {path}: {r.status} {(await r.text())[:300]}")

        await post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                          "metadata": {"name": PODS_NS}})
        await post("/api/v1/namespaces/default/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "small"},
            "data": {"LOG_LEVEL": "info"}})
        await post(f"/api/v1/namespaces/{PODS_NS}/pods", realistic_pod(0))
        async with s.get(server + PODLIST_PATH, headers=hdrs) as r:
            per_pod = len(await r.read())
        n = max(1, -(-TARGET_BYTES // per_pod) + 1)
        for i in range(1, n):
            await post(f"/api/v1/namespaces/{PODS_NS}/pods", realistic_pod(i))
        async with s.get(server + PODLIST_PATH, headers=hdrs) as r:
            return n, len(await r.read())
