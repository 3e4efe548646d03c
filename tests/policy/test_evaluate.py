"""Pure evaluation: guardrails first, disable rules, body subsets, dry runs, fail-closed bodies."""

from __future__ import annotations

from typing import Any

import pytest

from kgate.policy import Facts, evaluate, explain, guardrails_only, parse_policy
from kgate.policy.evaluate import body_matches
from kgate.policy.facts import dry_run_of, protobuf_document
from kgate.policy.guardrails import GUARDRAILS
from kgate.proxy.attributes import parse_request


def _facts(method: str, path: str, query: str = "", body: Any = None, **kw: Any) -> Facts:
    attrs = parse_request(method, path, query)
    return Facts(attrs, body=body, dry_run=dry_run_of(attrs, body), **kw)


def test_every_guardrail_is_named_once_and_masking_ones_cannot_be_disabled() -> None:
    names = [g.name for g in GUARDRAILS]
    assert len(names) == len(set(names))
    fixed = {g.name for g in GUARDRAILS if not g.can_disable}
    assert fixed == {"mask-nonresource", "mask-exec-output", "no-placeholder-writes",
                     "no-secret-copy"}
    assert {"no-impersonation", "no-token-request", "no-sa-token-secrets", "no-csr",
            "no-rbac-escalation", "no-proxy-subresources", "no-ephemeral-containers",
            "no-node-access"} <= set(names) - fixed


def test_disable_turns_a_guardrail_off_and_explain_says_so() -> None:
    facts = _facts("POST", "/api/v1/namespaces/a/serviceaccounts/default/token")
    assert evaluate(guardrails_only(), facts).rule == "no-token-request"
    relaxed = parse_policy("builtins: {disable: [no-token-request]}\n", "p.yaml")
    decision, steps = explain(relaxed, facts)
    assert (decision.action, decision.rule) == ("allow", None)
    assert next(s for s in steps if s.name == "no-token-request").outcome == "disabled"


def test_guardrails_come_before_user_rules() -> None:
    policy = parse_policy("rules:\n  - {name: allow-all, match: {}, action: allow}\n", "p.yaml")
    facts = _facts("GET", "/api/v1/namespaces/a/pods/p/proxy/")
    assert evaluate(policy, facts).rule == "no-proxy-subresources"
    assert evaluate(policy, _facts("GET", "/api/v1/namespaces/a/pods")).rule == "allow-all"


def test_a_deny_message_names_the_rule() -> None:
    policy = parse_policy("rules:\n  - {name: no-x, match: {resources: [x]}, action: deny, "
                          "message: not x}\n", "p.yaml")
    decision = evaluate(policy, _facts("GET", "/api/v1/namespaces/a/x"))
    assert decision.refusal_message == "denied by rule no-x: not x"


@pytest.mark.parametrize(("pattern", "value", "hit"), [
    ({"type": "kubernetes.io/*"}, {"type": "kubernetes.io/tls", "data": {}}, True),
    ({"type": "Opaque"}, {"type": "kubernetes.io/tls"}, False),
    ({"spec": {"hostNetwork": True}}, {"spec": {"hostNetwork": True, "x": 1}}, True),
    ({"spec": {"hostNetwork": True}}, {"spec": {"hostNetwork": 1}}, False),
    ({"spec": {"containers": [{"image": "*:latest"}]}},
     {"spec": {"containers": [{"image": "a:1"}, {"image": "b:latest"}]}}, True),
    ({"spec": {"containers": [{"image": "*:latest"}]}},
     {"spec": {"containers": [{"image": "a:1"}]}}, False),
    ({"missing": "x"}, {}, False),
    ({"n": 3}, {"n": 3}, True),
])
def test_body_subset_matching(pattern: Any, value: Any, hit: bool) -> None:
    assert body_matches(pattern, value) is hit


def test_dry_run_from_query_and_from_delete_options() -> None:
    assert _facts("POST", "/api/v1/namespaces/a/pods", "dryRun=All").dry_run
    assert _facts("DELETE", "/api/v1/namespaces/a/pods/p", body={"dryRun": ["All"]}).dry_run
    assert not _facts("DELETE", "/api/v1/namespaces/a/pods/p", body={"dryRun": []}).dry_run
    assert not _facts("POST", "/api/v1/namespaces/a/pods", body={"dryRun": ["All"]}).dry_run


def test_a_delete_body_overrides_the_dry_run_query() -> None:
    # kube-apiserver reads a DELETE's options from its body when it has one and ignores the
    # query: "?dryRun=All" plus a body without dryRun really deletes, so it is no dry run.
    sneaky = _facts("DELETE", "/api/v1/namespaces/a/pods/p", "dryRun=All",
                    body={"kind": "DeleteOptions", "propagationPolicy": "Background"})
    assert not sneaky.dry_run
    assert _facts("DELETE", "/api/v1/namespaces/a/pods/p", "dryRun=All").dry_run
    policy = parse_policy("rules:\n"
                          "  - {name: dry, match: {dryRun: true}, action: allow}\n"
                          "  - {name: hold, match: {verbs: [delete]}, action: review}\n",
                          "p.yaml")
    assert evaluate(policy, sneaky).rule == "hold"


def _pb(kind: str, raw_fields: bytes) -> bytes:
    def f(n: int, b: bytes) -> bytes:
        return bytes([n << 3 | 2, len(b)]) + b
    return b"k8s\x00" + f(1, f(1, b"v1") + f(2, kind.encode())) + f(2, f(1, f(1, b"x"))
                                                                      + raw_fields)


def test_protobuf_bodies_of_unknown_kinds_fail_closed() -> None:
    doc, complete = protobuf_document(_pb("ConfigMap", b""))
    assert not complete and doc["metadata"] == {"name": "x"}
    policy = parse_policy(
        "rules:\n"
        "  - {name: allow-labelled, match: {body: {metadata: {labels: {ok: 'yes'}}}}, "
        "action: allow}\n"
        "  - {name: deny-big, match: {body: {data: {big: '*'}}}, action: deny}\n", "p.yaml")
    facts = Facts(parse_request("POST", "/api/v1/namespaces/a/configmaps"), body=doc,
                  body_complete=False)
    # The allow rule cannot be proven to match; the deny rule cannot be proven not to.
    assert evaluate(policy, facts).rule == "deny-big"


def test_protobuf_secret_type_and_binding_role_are_read() -> None:
    def f(n: int, b: bytes) -> bytes:
        return bytes([n << 3 | 2, len(b)]) + b
    doc, complete = protobuf_document(_pb("Secret", f(3, b"kubernetes.io/service-account-token")))
    assert complete and doc["type"] == "kubernetes.io/service-account-token"
    ref = f(1, b"rbac.authorization.k8s.io") + f(2, b"ClusterRole") + f(3, b"cluster-admin")
    doc, complete = protobuf_document(_pb("ClusterRoleBinding",
                                          f(2, f(1, b"User") + f(3, b"agent")) + f(3, ref)))
    assert complete and doc["roleRef"]["name"] == "cluster-admin"
    assert doc["subjects"] == [{"kind": "User", "name": "agent"}]


@pytest.mark.parametrize(("method", "path", "body", "rule"), [
    ("PATCH", "/apis/rbac.authorization.k8s.io/v1/clusterroles/r",
     [{"op": "add", "path": "/rules/0/verbs/-", "value": "*"}], "no-rbac-escalation"),
    ("PATCH", "/apis/rbac.authorization.k8s.io/v1/clusterroles/r",
     {"rules": [{"verbs": ["*"], "resources": ["pods"]}]}, "no-rbac-escalation"),
    ("PATCH", "/api/v1/namespaces/a/secrets/s", [{"op": "replace", "path": "/type",
                                                  "value": "x"}], "no-sa-token-secrets"),
    ("PUT", "/api/v1/namespaces/a/pods/p/ephemeralcontainers", {}, "no-ephemeral-containers"),
    ("GET", "/api/v1/proxy/namespaces/a/pods/p", None, "no-proxy-subresources"),
    ("GET", "/api/v1/nodes/n/stats", None, "no-node-access"),
    ("POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", {}, "no-csr"),
])
def test_guardrail_table(method: str, path: str, body: Any, rule: str) -> None:
    assert evaluate(guardrails_only(), _facts(method, path, body=body)).rule == rule


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PATCH", "/apis/rbac.authorization.k8s.io/v1/clusterroles/r",
     {"rules": [{"verbs": ["get"]}]}),
    ("GET", "/api/v1/namespaces/a/pods/p/log", None),
    ("GET", "/api/v1/nodes/n", None),
    ("GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests", None),
    ("POST", "/api/v1/namespaces/a/serviceaccounts", {}),
])
def test_near_misses_are_allowed(method: str, path: str, body: Any) -> None:
    assert evaluate(guardrails_only(), _facts(method, path, body=body)).action == "allow"


def test_exec_over_an_unknown_upgrade_refused_websocket_and_spdy_not() -> None:
    attrs = parse_request("POST", "/api/v1/namespaces/a/pods/p/exec", "command=sh")
    other = Facts(attrs, headers=(("Upgrade", "h2c"),))
    spdy = Facts(attrs, headers=(("Upgrade", "SPDY/3.1"),))
    ws = Facts(attrs, headers=(("Upgrade", "websocket"),))
    assert evaluate(guardrails_only(), other).rule == "mask-exec-output"
    assert evaluate(guardrails_only(), spdy).action == "allow"   # masked frame by frame
    assert evaluate(guardrails_only(), ws).action == "allow"
    pf = Facts(parse_request("POST", "/api/v1/namespaces/a/pods/p/portforward"),
               headers=(("Upgrade", "SPDY/3.1"),))
    assert evaluate(guardrails_only(), pf).action == "allow"
