"""Class 3 of issue 7: the API server as accomplice, through JSON-patch reads.

Real kubectl 1.32 sends JSON patches that ``copy``/``move`` Secret data (or a secret env value,
or the last-applied annotation) into fields the agent can read back — annotations, labels,
``/type``, ``/metadata/name`` — with ``--dry-run=server`` so nothing is even written, and ``test``
operations that confirm a guessed value. Each is refused with 403 before it reaches the server,
and nothing of the planted values comes back in any encoding.
"""

from __future__ import annotations

import base64
import json

import pytest

from kgate.sandbox.registry import default_registry
from tests.attacks.leaks import assert_no_leak
from tests.attacks.rawhttp import raw_request
from tests.fixtures.kube import KubectlRunner
from tests.fixtures.proxy import Proxied

PASSWORD = "Acc0mpl1ce-Pw-4Rt9"      # fakes planted for this file
ENV_TOKEN = "Acc0mpl1ce-Env-Tok-2Wq"
PLANTED = [PASSWORD, ENV_TOKEN]


@pytest.fixture
def planted(proxied: Proxied) -> Proxied:
    registry = default_registry()
    store = proxied.sandbox.store

    def seed() -> None:
        store.create(registry.preferred("", "secrets"), "default", {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"password": base64.b64encode(PASSWORD.encode()).decode()}})
        store.create(registry.preferred("apps", "deployments"), "default", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{
                                      "name": "app", "image": "busybox",
                                      "env": [{"name": "API_TOKEN", "value": ENV_TOKEN}]}]}}}})

    proxied.sandbox.run(seed)
    return proxied


ATTACKS = [
    ("secret", "db", [{"op": "copy", "from": "/data/password",
                       "path": "/metadata/annotations/x"}]),
    ("secret", "db", [{"op": "copy", "from": "/data/password", "path": "/metadata/name"}]),
    ("secret", "db", [{"op": "move", "from": "/data/password", "path": "/type"}]),
    ("secret", "db", [{"op": "copy", "from": "/data", "path": "/metadata/labels"}]),
    ("secret", "db", [{"op": "test", "path": "/data/password",
                       "value": base64.b64encode(PASSWORD.encode()).decode()},
                      {"op": "add", "path": "/metadata/labels/guess", "value": "right"}]),
    ("deployment", "web", [{"op": "copy",
                            "from": "/spec/template/spec/containers/0/env/0/value",
                            "path": "/metadata/labels/x"}]),
    ("deployment", "web", [{"op": "test",
                            "path": "/spec/template/spec/containers/0/env/0/value",
                            "value": ENV_TOKEN}]),
]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("dry_run", [True, False])
def test_json_patch_reads_are_refused(planted: Proxied, kubectl: KubectlRunner,
                                      dry_run: bool) -> None:
    kc = planted.kubeconfig
    for kind, name, ops in ATTACKS:
        args = ["patch", kind, name, "--type=json", "-p", json.dumps(ops), "-o", "json"]
        if dry_run:
            args.append("--dry-run=server")
        proc = kubectl(*args, kubeconfig=kc, check=False)
        where = f"{ops[0]['op']} on {kind} (dry run {dry_run})"
        assert proc.returncode != 0, where
        assert "kgate: denied by rule no-secret-copy" in proc.stderr, where
        assert_no_leak(proc.stdout + proc.stderr, PLANTED, where)
    # Nothing reached the server: the Secret is unchanged and has no label.
    secret = json.loads(kubectl("get", "secret", "db", "-o", "json", kubeconfig=kc).stdout)
    assert "labels" not in secret["metadata"] and secret["type"] == "Opaque"
    refused = [e for e in planted.exchanges if e.rule == "no-secret-copy"]
    assert len(refused) == len(ATTACKS) and all(e.upstream_status is None for e in refused)


def test_harmless_json_patches_still_work(planted: Proxied, kubectl: KubectlRunner) -> None:
    kc = planted.kubeconfig
    ops = [{"op": "test", "path": "/spec/replicas", "value": 1},
           {"op": "replace", "path": "/spec/replicas", "value": 2},
           {"op": "add", "path": "/metadata/labels", "value": {"tier": "front"}}]
    kubectl("patch", "deployment", "web", "--type=json", "-p", json.dumps(ops), kubeconfig=kc)
    got = json.loads(kubectl("get", "deployment", "web", "-o", "json", kubeconfig=kc).stdout)
    assert got["spec"]["replicas"] == 2 and got["metadata"]["labels"] == {"tier": "front"}


@pytest.mark.parametrize("content_type", ["application/json-patch+json",
                                          "Application/JSON-Patch+JSON; charset=utf-8"])
def test_raw_json_patch_reads_are_refused_with_dry_run(planted: Proxied,
                                                       content_type: str) -> None:
    for ops in ([{"op": "copy", "from": "/data/password", "path": "/metadata/name"}],
                [{"op": "move", "from": "/data", "path": "/metadata/annotations"}],
                [{"op": "test", "path": "/data/password",
                  "value": base64.b64encode(PASSWORD.encode()).decode()}],
                [{"op": "copy", "from": "", "path": "/metadata/labels"}]):
        reply = raw_request(planted, "PATCH",
                            "/api/v1/namespaces/default/secrets/db?dryRun=All",
                            [("Content-Type", content_type)], json.dumps(ops).encode())
        assert reply.startswith(b"HTTP/1.1 403"), reply.split(b"\r\n", 1)[0]
        status = json.loads(reply.split(b"\r\n\r\n", 1)[1])
        assert status["kind"] == "Status" and status["code"] == 403
        assert status["message"].startswith("kgate: denied by rule no-secret-copy")
        assert_no_leak(reply, PLANTED, ops[0]["op"])
