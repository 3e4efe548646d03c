"""Masking throughput and memory: big Lists, a pod Table, and log streaming.

* ``mask_json`` over a 10,000-Secret ``SecretList`` (~20 MB, with last-applied annotations,
  managedFields and repeated values as real clusters have), a 10,000-Pod ``PodList`` (~34 MB,
  realistic pods: env with secrets and references, probes, projected volumes, owner references,
  conditions, container statuses), a ``Table`` of 10,000 pods with ``includeObject=Object`` and
  a ``ConfigMapList`` of 10,000 ConfigMaps with nothing secret in them (issue 15: every item is
  copied as bytes): MB/s (median of several runs) and peak traced memory as a multiple of the
  body size;
* a watch stream of the same Secrets as NDJSON events in 16 KiB chunks;
* log streaming over ~50 MB of realistic lines in 16 KiB chunks, detectors on vs off;
* 1 MB of anchor-dense text (``AKIA…``, ``token token …``, ``eyJaaaa.…`` and other units an
  attacker would choose), as a ConfigMap value and as a log: the worst case (issue 15).

Run: ``python -m bench.masking_bench [--runs 5] [--secrets 10000] [--log-mb 50]
[--lists-only]``.
Goal (issue 4): ≥ 50 MB/s for Lists, peak memory ≤ 3× the body.
"""

from __future__ import annotations

import argparse
import base64
import gc
import os
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import orjson

from kgate.proxy.masking import Masker, MaskingSettings

_RNG = random.Random(4)
_CHUNK = 16 * 1024


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _rand(n: int) -> str:
    return "".join(_RNG.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def _meta(name: str, ns: str, kind: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": ns,
        "uid": f"{_rand(8)}-{_rand(4)}-{_rand(4)}-{_rand(4)}-{_rand(12)}",
        "resourceVersion": str(_RNG.randint(10**6, 10**7)),
        "creationTimestamp": "2026-01-12T09:14:03Z",
        "labels": {"app.kubernetes.io/name": name.rsplit("-", 1)[0],
                   "app.kubernetes.io/part-of": "shop", "team": "payments"},
        "managedFields": [{
            "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
            "time": "2026-01-12T09:14:03Z", "fieldsType": "FieldsV1",
            "fieldsV1": {f"f:{k}": {} for k in extra},
        }],
    }


def secret_list(n: int) -> bytes:
    """A SecretList like ``kubectl get secrets -A -o json`` on a busy cluster."""
    ca = ("-----BEGIN CERTIFICATE-----\n" + _rand(480) + "\n-----END CERTIFICATE-----\n")
    shared = [_b64(b"admin"), _b64(b"postgres"), _b64(b"5432"), _b64(b"true"), _b64(ca.encode())]
    items = []
    for i in range(n):
        name = f"svc-{i % 400}-creds-{i}"
        data = {
            "username": shared[i % 2],
            "password": _b64(_rand(24).encode()),
            "port": shared[2],
            "tls.key": _b64(("-----BEGIN EC PRIVATE KEY-----\n" + _rand(180)
                             + "\n-----END EC PRIVATE KEY-----\n").encode()),
            "api-token": _b64(_rand(40).encode()),
            "enabled": shared[3],
            "ca.crt": shared[4],
        }
        applied = {
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": f"team-{i % 20}"},
            "stringData": {"username": "admin", "password": _rand(24), "port": "5432"},
        }
        md = _meta(name, f"team-{i % 20}", "Secret", data)
        md["annotations"] = {
            "kubectl.kubernetes.io/last-applied-configuration":
                orjson.dumps(applied).decode() + "\n",
            "owner": "payments@example.com",
        }
        items.append({"metadata": md, "data": data, "type": "Opaque"})
    return orjson.dumps({"kind": "SecretList", "apiVersion": "v1",
                         "metadata": {"resourceVersion": "1234567"}, "items": items})


def _pod(i: int) -> dict[str, Any]:
    """A realistic Pod: env with secrets and references, probes, volumes, status."""
    name = f"web-{i % 300}-{_rand(5)}"
    env = [
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "DB_PASSWORD", "value": _rand(20)},
        {"name": "API_TOKEN", "value": _rand(32)},
        {"name": "DATABASE_URL", "value": f"postgres://app:{_rand(12)}@db:5432/shop"},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "redis",
                                                                  "key": "password"}}},
    ]
    probe = {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
             "initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 1,
             "successThreshold": 1, "failureThreshold": 3}
    cid = f"containerd://{_rand(64)}"
    return {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {**_meta(name, "shop", "Pod", {"spec": 1, "status": 1}),
                     "generateName": name[:-5],
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": name[:-6], "uid": _rand(36),
                                          "controller": True, "blockOwnerDeletion": True}]},
        "spec": {
            "containers": [{
                "name": "web", "image": "registry.example.com/shop/web:1.42.0",
                "args": ["--port=8080", "--log-format=json"], "env": env,
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                "livenessProbe": probe, "readinessProbe": probe,
                "volumeMounts": [{"name": "kube-api-access-x1", "readOnly": True,
                                  "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent",
            }],
            "nodeName": f"node-{i % 12}", "serviceAccountName": "web",
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}],
            "volumes": [{"name": "kube-api-access-x1", "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt",
                               "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}],
        },
        "status": {"phase": "Running", "podIP": f"10.0.{i % 250}.{i % 200}",
                   "hostIP": f"192.168.1.{i % 12}", "qosClass": "Burstable",
                   "startTime": "2026-01-12T09:14:03Z",
                   "conditions": [{"type": t, "status": "True", "lastProbeTime": None,
                                   "lastTransitionTime": "2026-01-12T09:14:05Z"}
                                  for t in ("Initialized", "Ready", "ContainersReady",
                                            "PodScheduled")],
                   "containerStatuses": [{
                       "name": "web", "ready": True, "restartCount": 0, "started": True,
                       "image": "registry.example.com/shop/web:1.42.0",
                       "imageID": f"registry.example.com/shop/web@sha256:{_rand(64)}",
                       "containerID": cid,
                       "state": {"running": {"startedAt": "2026-01-12T09:14:04Z"}}}]},
    }


def pod_list(n: int) -> bytes:
    """``kubectl get pods -A -o json``: a PodList of realistic Pods."""
    return orjson.dumps({"kind": "PodList", "apiVersion": "v1",
                         "metadata": {"resourceVersion": "99"},
                         "items": [_pod(i) for i in range(n)]})


def _busy_pod(i: int) -> dict[str, Any]:
    """A pod of a busy app: secret-looking env names, flags with secrets, config annotations."""
    pod = _pod(i)
    c = pod["spec"]["containers"][0]
    c["env"] += [
        {"name": "AWS_ACCESS_KEY_ID", "value": "AKIA" + _rand(16).upper()},
        {"name": "AWS_SECRET_ACCESS_KEY", "value": _rand(40)},
        {"name": "GITHUB_TOKEN", "value": "ghp_" + _rand(36)},
        {"name": "STRIPE_SECRET_KEY", "value": "sk_live_" + _rand(24)},
        {"name": "SESSION_KEY_FILE", "value": "/etc/app/session.key"},
        {"name": "OAUTH_TOKEN_URL", "value": "https://auth.example.com/oauth/token"},
        {"name": "FEATURE_FLAGS", "value": "checkout,search,recommendations"},
    ]
    c["args"] = ["--port=8080", f"--db-password={_rand(16)}", "--api-key", _rand(32),
                 "--log-format=json", "--tokenizer=basic"]
    pod["metadata"]["annotations"] = {
        "prometheus.io/scrape": "true", "prometheus.io/port": "9090",
        "app.example.com/config": orjson.dumps({"cache": {"ttl": 60, "password": _rand(12)},
                                                "upstream": "http://api:8080"}).decode(),
        "kubectl.kubernetes.io/restartedAt": "2026-01-12T09:14:03Z",
    }
    return pod


def busy_pod_list(target_bytes: int = 1_000_000) -> bytes:
    """A ~1 MB PodList of busy pods (``_busy_pod``): below the bulk threshold, parsed whole."""
    items: list[dict[str, Any]] = []
    size = 0
    while size < target_bytes:
        items.append(_busy_pod(len(items)))
        size += len(orjson.dumps(items[-1]))
    return orjson.dumps({"kind": "PodList", "apiVersion": "v1",
                         "metadata": {"resourceVersion": "99"}, "items": items[:-1]})


def configmap_list(n: int) -> bytes:
    """``kubectl get configmaps -A -o json`` with nothing secret in it: app settings, a
    properties file, an nginx snippet, labels, managedFields (the clean-List case, issue 15)."""
    items = []
    for i in range(n):
        name = f"shop-{i % 400}-settings-{i}"
        data = {
            "LOG_LEVEL": "info",
            "FEATURE_FLAGS": "checkout,search,recommendations",
            "UPSTREAM_URL": f"http://orders-{i % 40}.shop.svc.cluster.local:8080",
            "application.properties": (
                f"server.port=8080\nspring.application.name=shop-{i % 400}\n"
                "management.endpoints.web.exposure.include=health,info,prometheus\n"
                f"cache.ttl.seconds={60 + i % 300}\nretry.max-attempts=3\n"),
            "nginx.conf": (
                "server {\n  listen 80;\n  gzip on;\n  location / {\n    root "
                f"/usr/share/nginx/html;\n    expires {30 + i % 30}m;\n  }}\n}}\n"),
        }
        md = _meta(name, f"team-{i % 20}", "ConfigMap", data)
        md["annotations"] = {"app.example.com/owner": "payments@example.com",
                             "app.example.com/revision": str(i % 17)}
        items.append({"metadata": md, "data": data})
    return orjson.dumps({"kind": "ConfigMapList", "apiVersion": "v1",
                         "metadata": {"resourceVersion": "1234567"}, "items": items})


def pod_table(n: int) -> bytes:
    """``kubectl get pods -o wide`` with ``includeObject=Object``: a Table of full Pods."""
    rows = []
    for i in range(n):
        name = f"web-{i % 300}-{_rand(5)}"
        env = [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "DB_PASSWORD", "value": _rand(20)},
            {"name": "API_TOKEN", "value": _rand(32)},
            {"name": "DATABASE_URL", "value": f"postgres://app:{_rand(12)}@db:5432/shop"},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        ]
        pod = {
            "kind": "Pod", "apiVersion": "v1",
            "metadata": _meta(name, "shop", "Pod", {"spec": 1, "status": 1}),
            "spec": {
                "containers": [{
                    "name": "web", "image": "registry.example.com/shop/web:1.42.0",
                    "args": ["--port=8080", "--log-format=json"], "env": env,
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                }],
                "nodeName": f"node-{i % 12}", "serviceAccountName": "web",
            },
            "status": {"phase": "Running", "podIP": f"10.0.{i % 250}.{i % 200}",
                       "conditions": [{"type": "Ready", "status": "True"}]},
        }
        rows.append({"cells": [name, "1/1", "Running", 0, "3d", f"10.0.{i % 250}.{i % 200}",
                               f"node-{i % 12}", "<none>", "<none>"], "object": pod})
    cols = [{"name": c, "type": "string", "format": "", "description": "", "priority": 0}
            for c in ("Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                      "Nominated Node", "Readiness Gates")]
    return orjson.dumps({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                         "metadata": {"resourceVersion": "99"},
                         "columnDefinitions": cols, "rows": rows})


def log_lines(target_bytes: int) -> bytes:
    """Access logs, JSON logs and stack traces, with an occasional secret (1 in 200 lines)."""
    out: list[str] = []
    size = 0
    i = 0
    while size < target_bytes:
        i += 1
        r = i % 200
        if r == 0:
            line = f'level=warn msg="retrying" url=https://svc:{_rand(10)}@db.internal/x'
        elif r == 100:
            line = f"export API_TOKEN=ghp_{_rand(36)}"
        elif i % 3 == 0:
            line = (f'10.0.{i % 250}.{i % 199} - - [12/Jan/2026:09:14:{i % 60:02d} +0000] '
                    f'"GET /api/v1/orders/{i}?page=2 HTTP/1.1" 200 {i % 5000} "-" '
                    f'"Mozilla/5.0 (X11; Linux x86_64)"')
        elif i % 3 == 1:
            line = orjson.dumps({"ts": "2026-01-12T09:14:03.123Z", "level": "info",
                                 "msg": "order processed", "order": i, "user": f"u{i % 977}",
                                 "latency_ms": i % 300, "trace": _rand(16)}).decode()
        else:
            line = f"    at com.example.shop.OrderService.process(OrderService.java:{i % 900})"
        out.append(line)
        size += len(line) + 1
    return ("\n".join(out) + "\n").encode()


def _median_rate(fn: Callable[[], Any], size: int, runs: int) -> tuple[float, float]:
    """MB/s by CPU time (robust on a shared box) and by wall time, medians of ``runs``."""
    cpu, wall = [], []
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return size / statistics.median(cpu) / 1e6, size / statistics.median(wall) / 1e6


def _peak_multiple(fn: Callable[[], Any], size: int) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / size


def _stream(make: Callable[[], Any], body: bytes) -> Callable[[], None]:
    def run() -> None:
        s = make()
        for i in range(0, len(body), _CHUNK):
            s.feed(body[i:i + _CHUNK])
        s.close()
    return run


#: Issue 15: text dense with anchors (every few bytes a detector keyword) is the worst case;
#: anyone who can write a ConfigMap or a log line can plant it.
DENSE_UNITS = ("AKIA", "AKIA ", "token ", "eyJaaaa.", "password=", "-----BEGIN ", "://a:b@",
               "token\n", "password:\n", "xtoken ")


def dense_rows(key: bytes, runs: int) -> list[tuple[str, float, tuple[float, float], str]]:
    """1 MB of each dense unit, as one ConfigMap value (the object path) and as a log (16 KiB
    chunks; units without a newline make one 1 MB line)."""
    rows = []
    for unit in DENSE_UNITS:
        text = unit * (1_000_000 // len(unit))
        body = orjson.dumps({"kind": "ConfigMap", "apiVersion": "v1",
                             "metadata": {"name": "dense", "namespace": "default"},
                             "data": {"value": text}})
        rate = _median_rate(lambda b=body: Masker(MaskingSettings(), key).mask_json(b),
                            len(text), runs)
        rows.append((f"dense {unit!r} object", len(text) / 1e6, rate, "1 MB ConfigMap value"))
        log = text.encode()
        rate = _median_rate(_stream(Masker(MaskingSettings(), key).text_stream, log), len(log),
                            runs)
        rows.append((f"dense {unit!r} log", len(log) / 1e6, rate, "16 KiB chunks"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--secrets", type=int, default=10_000)
    ap.add_argument("--pods", type=int, default=10_000)
    ap.add_argument("--log-mb", type=float, default=50.0)
    ap.add_argument("--dense-only", action="store_true", help="only the dense-anchor cases")
    ap.add_argument("--lists-only", action="store_true",
                    help="only the List and Table cases (no watch, logs or dense text)")
    args = ap.parse_args()
    if args.dense_only:
        _print(dense_rows(os.urandom(32), args.runs))
        return

    key = os.urandom(32)
    on = Masker(MaskingSettings(), key)
    off = Masker(MaskingSettings(detectors=()), key)

    secrets = secret_list(args.secrets)
    table = pod_table(args.pods)
    pods = pod_list(args.pods)
    busy = busy_pod_list()
    configmaps = configmap_list(args.pods)

    rows: list[tuple[str, float, tuple[float, float], str]] = []

    def fresh(body: bytes) -> Callable[[], Any]:
        # a new Masker per run: no warm placeholder cache carried across runs
        return lambda: Masker(MaskingSettings(), key).mask_json(body)

    for label, body in ((f"SecretList ({args.secrets})", secrets),
                        (f"PodList ({args.pods})", pods),
                        (f"clean ConfigMapList ({args.pods})", configmaps),
                        ("busy PodList (1 MB)", busy),
                        (f"Pod Table ({args.pods}, Object)", table)):
        rate = _median_rate(fresh(body), len(body), args.runs)
        peak = _peak_multiple(fresh(body), len(body))
        masked = on.mask_json(body).masked
        rows.append((label, len(body) / 1e6, rate,
                     f"peak +{peak:.2f}× body beyond the input, {masked} masked"))
    if args.lists_only:
        _print(rows)
        return
    events = b"".join(
        orjson.dumps({"type": "ADDED", "object": {"kind": "Secret", **item}}) + b"\n"
        for item in orjson.loads(secrets)["items"]
    )
    logs = log_lines(int(args.log_mb * 1e6))

    rate = _median_rate(_stream(on.watch_stream, events), len(events), args.runs)
    rows.append((f"watch NDJSON ({args.secrets} events)", len(events) / 1e6, rate, "16 KiB chunks"))
    for label, masker in (("logs, detectors on", on), ("logs, detectors off", off)):
        rate = _median_rate(_stream(masker.text_stream, logs), len(logs), args.runs)
        rows.append((label, len(logs) / 1e6, rate, "16 KiB chunks"))

    rows.extend(dense_rows(key, args.runs))

    _print(rows)


def _print(rows: list[tuple[str, float, tuple[float, float], str]]) -> None:
    print(f"{'case':36} {'MB':>6} {'MB/s cpu':>9} {'MB/s wall':>10}  notes")
    for label, mb, (cpu, wall), note in rows:
        print(f"{label:36} {mb:6.1f} {cpu:9.1f} {wall:10.1f}  {note}")


if __name__ == "__main__":
    main()
