"""What a fresh sandbox contains: the base namespaces, and the ``demo`` set.

The demo set is a small, deliberately leaky cluster: Secrets of the usual types, a ConfigMap that
carries a token, containers with literal ``DB_PASSWORD``/``API_TOKEN`` env values, and pods whose
logs print credentials the way a misconfigured app does (``sandbox.kgate.dev/log`` holds a pod's
initial log text, ``sandbox.kgate.dev/log-every`` makes ``logs -f`` keep producing lines). It is
what ``kgate demo`` and the masking tests point an agent at. Every secret value is listed in
``DEMO_SECRET_VALUES`` so tests can assert that none of them ever leaks through the proxy. The
values are fakes made for this file; none is a real credential.
"""

from __future__ import annotations

import base64
from typing import Any

from kgate.sandbox.registry import Registry
from kgate.sandbox.store import Store

Obj = dict[str, Any]

BASE_NAMESPACES = ("default", "kube-system", "kube-public")

DB_PASSWORD = "s3cr3t-Pg-pass-7Hq2"
API_TOKEN = "tok_9fK2mQ7vX1bN4cR8sT3wY6zA0dE5gH2j"
AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7SANDBX1"
AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSANDBOXKEY"
GITHUB_TOKEN = "ghp_Sandbox0123456789abcdefghijKLMNOPQRs"
STRIPE_KEY = "sk_live_51SandboxFakeKey0000aaaa1111bbbb"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzYW5kYm94LWRlbW8iLCJyb2xlIjoiYWRtaW4i"
       "fQ.c2FuZGJveC1zaWduYXR1cmUtbm90LXJlYWw")
REGISTRY_PASSWORD = "r3g1stry-Pa55-demo"
TLS_KEY_PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSandboxDemoKeyNot\n"
    "ARealKeyJustShapedLikeOneAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    "-----END PRIVATE KEY-----\n")
TLS_CERT_PEM = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBdemoCertificateForTheKgateSandboxOnlyAAAAAAAAAAAAAAAAAAAAAAAA\n"
    "-----END CERTIFICATE-----\n")
DOCKER_CONFIG = ('{"auths":{"registry.example.com":{"username":"deploy","password":"'
                 + REGISTRY_PASSWORD + '","auth":"'
                 + base64.b64encode(f"deploy:{REGISTRY_PASSWORD}".encode()).decode() + '"}}}')
POSTGRES_URL = f"postgres://payments:{DB_PASSWORD}@db.prod-payments.svc:5432/payments"

# Every secret value seeded below (masking tests assert none of them reaches an agent).
DEMO_SECRET_VALUES: list[str] = [
    DB_PASSWORD, API_TOKEN, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, STRIPE_KEY,
    JWT, REGISTRY_PASSWORD, TLS_KEY_PEM, DOCKER_CONFIG, POSTGRES_URL,
]


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _create(store: Store, registry: Registry, group: str, resource: str, obj: Obj) -> None:
    rt = registry.preferred(group, resource)
    assert rt is not None and rt.stored, (group, resource)
    store.create(rt, obj.get("metadata", {}).get("namespace"), obj)


def seed_base(store: Store, registry: Registry) -> None:
    """The namespaces every cluster has."""
    for name in BASE_NAMESPACES:
        _create(store, registry, "", "namespaces", {"metadata": {"name": name}})


def _deployment(name: str, namespace: str, image: str, replicas: int, env: list[Obj],
                log: str, log_every: str | None = None) -> Obj:
    annotations = {"sandbox.kgate.dev/log": log}
    if log_every:
        annotations["sandbox.kgate.dev/log-every"] = log_every
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels, "annotations": annotations},
                              "spec": {"containers": [{
                                  "name": name, "image": image, "env": env,
                                  "ports": [{"containerPort": 8080}]}]}}},
    }


def _demo_objects() -> list[tuple[str, str, Obj]]:
    web_log = (
        "2025-01-01T00:00:00Z INFO starting web on :8080\n"
        "2025-01-01T00:00:01Z INFO LOG_LEVEL=info\n"
        f"2025-01-01T00:00:01Z DEBUG upstream api token: API_TOKEN={API_TOKEN}\n"
        "2025-01-01T00:00:02Z INFO ready\n")
    api_log = (
        "2025-01-01T00:00:00Z INFO api booting\n"
        f"2025-01-01T00:00:00Z DEBUG connecting to {POSTGRES_URL}\n"
        f"2025-01-01T00:00:01Z DEBUG aws credentials AWS_ACCESS_KEY_ID={AWS_ACCESS_KEY_ID}\n"
        "2025-01-01T00:00:02Z INFO listening on :8080\n")
    worker_log = (
        "2025-01-01T00:00:00Z INFO payments-worker started\n"
        f"2025-01-01T00:00:00Z DEBUG stripe key {STRIPE_KEY}\n"
        "2025-01-01T00:00:01Z INFO processed batch size=10\n")
    return [
        ("", "namespaces", {"metadata": {"name": "dev"}}),
        ("", "namespaces", {"metadata": {"name": "prod-payments"}}),
        ("", "secrets", {"metadata": {"name": "db-credentials", "namespace": "prod-payments"},
                         "type": "Opaque",
                         "data": {"username": _b64("payments"), "password": _b64(DB_PASSWORD),
                                  "url": _b64(POSTGRES_URL)}}),
        ("", "secrets", {"metadata": {"name": "api-token", "namespace": "dev"},
                         "type": "Opaque", "data": {"token": _b64(API_TOKEN)}}),
        ("", "secrets", {"metadata": {"name": "aws-credentials", "namespace": "dev"},
                         "type": "Opaque",
                         "data": {"AWS_ACCESS_KEY_ID": _b64(AWS_ACCESS_KEY_ID),
                                  "AWS_SECRET_ACCESS_KEY": _b64(AWS_SECRET_ACCESS_KEY)}}),
        ("", "secrets", {"metadata": {"name": "web-tls", "namespace": "dev"},
                         "type": "kubernetes.io/tls",
                         "data": {"tls.crt": _b64(TLS_CERT_PEM), "tls.key": _b64(TLS_KEY_PEM)}}),
        ("", "secrets", {"metadata": {"name": "registry-pull", "namespace": "prod-payments"},
                         "type": "kubernetes.io/dockerconfigjson",
                         "data": {".dockerconfigjson": _b64(DOCKER_CONFIG)}}),
        ("", "configmaps", {"metadata": {"name": "web-config", "namespace": "dev"},
                            "data": {"LOG_LEVEL": "info", "FEATURE_FLAGS": "search,checkout",
                                     "app.properties": "port=8080\ntimeout=30s\n"}}),
        ("", "configmaps", {"metadata": {"name": "ci-settings", "namespace": "dev"},
                            "data": {"REPO": "example/web",
                                     "settings.yaml": f"github:\n  token: {GITHUB_TOKEN}\n",
                                     "SERVICE_JWT": JWT}}),
        ("apps", "deployments", _deployment(
            "web", "dev", "nginx:1.27", 2,
            [{"name": "LOG_LEVEL", "value": "info"}, {"name": "API_TOKEN", "value": API_TOKEN}],
            web_log, log_every="1s")),
        ("apps", "deployments", _deployment(
            "api", "dev", "example/api:2.3.1", 1,
            [{"name": "LOG_LEVEL", "value": "debug"},
             {"name": "DB_PASSWORD", "value": DB_PASSWORD},
             {"name": "AWS_SECRET_ACCESS_KEY", "value": AWS_SECRET_ACCESS_KEY},
             {"name": "DB_USER", "valueFrom": {"secretKeyRef": {
                 "name": "db-credentials", "key": "username"}}}],
            api_log)),
        ("apps", "deployments", _deployment(
            "payments-worker", "prod-payments", "example/payments-worker:1.8.0", 2,
            [{"name": "LOG_LEVEL", "value": "info"},
             {"name": "STRIPE_API_KEY", "value": STRIPE_KEY},
             {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {
                 "name": "db-credentials", "key": "password"}}}],
            worker_log)),
        ("", "services", {"metadata": {"name": "web", "namespace": "dev"},
                          "spec": {"selector": {"app": "web"},
                                   "ports": [{"port": 80, "targetPort": 8080}]}}),
        ("", "services", {"metadata": {"name": "api", "namespace": "dev"},
                          "spec": {"selector": {"app": "api"},
                                   "ports": [{"port": 8080}]}}),
    ]


def seed_demo(store: Store, registry: Registry) -> None:
    """Add the demo namespaces, workloads, Secrets and ConfigMaps."""
    for group, resource, obj in _demo_objects():
        _create(store, registry, group, resource, obj)
