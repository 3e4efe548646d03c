"""Which Secrets a pod's output can print, and which requests need the masker primed."""

from __future__ import annotations

import pytest

from kgate.proxy.attributes import parse_request
from kgate.proxy.stages.priming import needs_priming, secrets_referenced_by


def test_every_way_a_container_can_read_a_secret_is_found() -> None:
    pod = {"spec": {
        "initContainers": [{"env": [{"name": "A", "valueFrom": {"secretKeyRef": {
            "name": "init-secret", "key": "k"}}}]}],
        "containers": [
            {"env": [{"name": "B", "value": "literal"},
                     {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
                     {"name": "D", "valueFrom": {"secretKeyRef": {"name": "env-secret",
                                                                  "key": "k"}}}],
             "envFrom": [{"secretRef": {"name": "bulk-secret"}}, {"configMapRef": {"name": "x"}}]},
        ],
        "ephemeralContainers": [{"envFrom": [{"secretRef": {"name": "debug-secret"}}]}],
        "volumes": [
            {"name": "v1", "secret": {"secretName": "mounted-secret"}},
            {"name": "v2", "configMap": {"name": "cm"}},
            {"name": "v3", "projected": {"sources": [{"secret": {"name": "projected-secret"}},
                                                     {"serviceAccountToken": {"path": "t"}}]}},
            {"name": "v4", "secret": {"secretName": "env-secret"}},  # listed once
        ],
    }}
    assert secrets_referenced_by(pod) == ["init-secret", "env-secret", "bulk-secret",
                                          "debug-secret", "mounted-secret", "projected-secret"]


@pytest.mark.parametrize("pod", [{}, {"spec": None}, {"spec": {"containers": "nonsense"}},
                                 {"spec": {"volumes": [{"secret": {"secretName": 3}}]}}, []])
def test_malformed_pods_reference_nothing(pod: object) -> None:
    assert secrets_referenced_by(pod) == []


@pytest.mark.parametrize(("method", "path", "primed"), [
    ("GET", "/api/v1/namespaces/a/pods/p/log", True),
    ("POST", "/api/v1/namespaces/a/pods/p/exec", True),
    ("GET", "/api/v1/namespaces/a/pods/p/attach", True),
    ("GET", "/api/v1/namespaces/a/pods/p/portforward", False),
    ("GET", "/api/v1/namespaces/a/pods/p", False),
    ("GET", "/api/v1/namespaces/a/secrets", False),
])
def test_only_pod_output_needs_priming(method: str, path: str, primed: bool) -> None:
    assert needs_priming(parse_request(method, path)) is primed


def test_every_secret_value_is_taken_whatever_its_shape() -> None:
    import base64

    from kgate.proxy.masking.primed import secret_values

    raw = [b"abcd", b"letters", b"12345", b"\xff\x00binary", b"x" * 10_000, b"a\nb\n"]
    secret = {"data": {f"k{i}": base64.b64encode(v).decode() for i, v in enumerate(raw)}
              | {"bad": "not base64!", "empty": "", "num": 3},
              "stringData": {"s": "plain text", "n": None}}
    assert secret_values(secret) == [*raw, b"not base64!", b"plain text"]
    assert secret_values(None) == [] and secret_values({"data": "x"}) == []


def test_secret_named_env_literals_are_taken() -> None:
    from kgate.proxy.masking.primed import env_secret_values

    pod = {"spec": {"containers": [{"env": [
        {"name": "DB_PASSWORD", "value": "pw"}, {"name": "LOG_LEVEL", "value": "debug"},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        {"name": "MYSQL_PWD", "value": "p2"}]}],
        "initContainers": [{"env": [{"name": "INIT_SECRET", "value": "p3"}]}]}}
    assert env_secret_values(pod, lambda n: "PASS" in n or "SECRET" in n or "PWD" in n) == [
        b"p3", b"pw", b"p2"]
    assert env_secret_values({"spec": []}, lambda n: True) == []
