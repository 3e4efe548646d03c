"""The one registry of built-in guardrails: named refusals evaluated before the user's rules.

Each guardrail has a name, the message the agent sees, and whether ``builtins.disable`` may turn
it off. The escape paths (impersonation, token requests, CSRs, RBAC escalation, raw proxying,
ephemeral containers, node access) are policy: a user who knows what they do may relax them.
The masking guardrails are not: each one guards a place where kgate could not mask what comes
back (a non-resource path, exec output over SPDY) or where a write would destroy data (a
placeholder written back, a JSON patch copying a secret elsewhere), so they cannot be disabled.
Order matters only for which name a refusal carries: the more specific ``no-node-access`` comes
before ``no-proxy-subresources``, which still refuses ``nodes/proxy`` if the first is disabled.
Every check is a pure function of ``Facts``; the proxy and ``kgate policy eval`` run the same
ones through ``kgate.policy.evaluate``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kgate.policy.facts import Facts

_WRITES = ("create", "update", "patch")


@dataclass(frozen=True)
class Hit:
    """A guardrail's refusal of one request."""

    message: str
    code: int = 403
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class Guardrail:
    name: str
    summary: str
    can_disable: bool
    check: Callable[[Facts], Hit | None]
    #: True: the agent sees "denied by rule NAME: message"; False: the message alone.
    as_rule: bool = True


def _impersonation(f: Facts) -> Hit | None:
    names = sorted({k for k, _ in f.headers if k.lower().startswith("impersonate-")})
    if not names:
        return None
    return Hit(f"agents may not impersonate other users (header {', '.join(names)}); "
               "drop --as/--as-group")


def _token_request(f: Facts) -> Hit | None:
    a = f.attrs
    if a.api_group == "" and a.resource == "serviceaccounts" and a.subresource == "token":
        return Hit("agents may not mint service-account tokens (TokenRequest): a token outlives "
                   "the session and bypasses kgate")
    return None


def _sa_token_secret(f: Facts) -> Hit | None:
    a = f.attrs
    if not (a.api_group == "" and a.resource == "secrets" and a.verb in _WRITES):
        return None
    doc = f.body
    if isinstance(doc, dict) and doc.get("type") == "kubernetes.io/service-account-token":
        return Hit("agents may not create service-account-token Secrets: the token controller "
                   "would fill in a long-lived credential")
    if isinstance(doc, list) and any(isinstance(op, dict) and op.get("path") == "/type"
                                     for op in doc):
        return Hit("agents may not change a Secret's type")
    return None


def _csr(f: Facts) -> Hit | None:
    a = f.attrs
    if a.api_group != "certificates.k8s.io" or a.resource != "certificatesigningrequests":
        return None
    if a.verb == "create" and not a.subresource:
        return Hit("agents may not request client certificates (CertificateSigningRequest): "
                   "a signed certificate is a credential kgate cannot revoke")
    if a.subresource == "approval" and a.verb in ("update", "patch"):
        return Hit("agents may not approve CertificateSigningRequests")
    return None


def _star_verbs(node: Any) -> bool:
    """Whether an RBAC object (or patch of one) grants ``*`` verbs anywhere."""
    if isinstance(node, dict):
        verbs = node.get("verbs")
        if isinstance(verbs, list) and "*" in verbs:
            return True
        if node.get("op") in ("add", "replace") and "verbs" in str(node.get("path", "")):
            value = node.get("value")
            if value == "*" or (isinstance(value, list) and "*" in value) or _star_verbs(value):
                return True
        return any(_star_verbs(v) for v in node.values())
    if isinstance(node, list):
        return any(_star_verbs(v) for v in node)
    return False


def _rbac_escalation(f: Facts) -> Hit | None:
    a = f.attrs
    if a.verb in ("escalate", "bind", "impersonate"):
        return Hit(f"agents may not use the RBAC verb {a.verb}")
    if a.api_group != "rbac.authorization.k8s.io" or a.verb not in _WRITES:
        return None
    doc = f.body
    if a.resource in ("rolebindings", "clusterrolebindings") and isinstance(doc, dict):
        ref = doc.get("roleRef")
        if isinstance(ref, dict) and ref.get("name") == "cluster-admin":
            return Hit("agents may not bind anyone to cluster-admin")
    if a.resource in ("roles", "clusterroles") and _star_verbs(doc):
        return Hit("agents may not create or change roles that grant '*' verbs")
    return None


def _proxy_subresources(f: Facts) -> Hit | None:
    a = f.attrs
    if a.verb == "proxy" or (a.api_group == "" and a.subresource == "proxy"
                             and a.resource in ("pods", "services", "nodes")):
        return Hit(f"agents may not proxy to {a.resource or 'cluster'} endpoints: the raw "
                   "in-cluster bytes would bypass masking")
    return None


def _ephemeral_containers(f: Facts) -> Hit | None:
    a = f.attrs
    if (a.api_group == "" and a.resource == "pods" and a.subresource == "ephemeralcontainers"
            and a.verb in _WRITES):
        return Hit("agents may not add ephemeral containers (kubectl debug): they run with the "
                   "pod's secrets and service account")
    return None


def _node_access(f: Facts) -> Hit | None:
    a = f.attrs
    if a.api_group == "" and a.resource == "nodes" and a.subresource in (
            "proxy", "log", "stats", "metrics", "spec"):
        return Hit(f"agents may not reach the kubelet (nodes/{a.subresource})")
    return None


def _nonresource(f: Facts) -> Hit | None:
    if f.attrs.is_resource or f.describes_api:
        return None
    return Hit(f"the non-resource path {f.attrs.path} is not forwarded: kgate cannot tell what "
               "it returns, so it cannot mask it")


def _exec_output(f: Facts) -> Hit | None:
    a = f.attrs
    if not a.is_exec_like or a.subresource == "portforward":
        return None
    upgrade = (f.header("upgrade") or "").strip().lower()
    if not upgrade or upgrade in ("websocket", "spdy/3.1"):
        return None   # no upgrade: answered like any request; these two are masked per frame
    return Hit(f"{a.subresource} over {upgrade} cannot be masked; use a client that speaks "
               "WebSocket or SPDY/3.1")


def _placeholder_writes(f: Facts) -> Hit | None:
    if not f.has_placeholders:
        return None
    message = f.placeholder_message or (
        "the request body contains masked placeholder(s) (kgate:masked:…); writing them back "
        "would overwrite the real values. Send only the fields you mean to change, without "
        "masked values")
    # Shaped like kube's Invalid Status: kubectl prints "<field>: <message>" per cause (and
    # kubectl edit lists them in the file it reopens).
    causes = [{"reason": "FieldValueInvalid", "field": field,
               "message": "kgate: a masked placeholder cannot be written back"}
              for field in f.placeholder_fields[:20]]
    doc = f.body if isinstance(f.body, dict) else {}
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    return Hit(message, 422, {
        "name": (meta or {}).get("name") or f.attrs.name,
        "group": f.attrs.api_group,
        "kind": doc.get("kind") or f.attrs.resource,
        "causes": causes or [{"reason": "FieldValueInvalid", "message": f"kgate: {message}"}],
    })


def _secret_copy(f: Facts) -> Hit | None:
    if not f.secret_copy:
        return None
    reads = "; ".join(f.secret_copy[:5])
    return Hit(f"this JSON patch would make the API server read fields kgate cannot show you "
               f"and copy them where kgate cannot mask them, or tell you whether your guess "
               f"equals them ({reads}); refused even with dryRun. Send an 'add' or 'replace' "
               "with the value you mean to write instead")


GUARDRAILS: tuple[Guardrail, ...] = (
    Guardrail("mask-nonresource", "non-resource paths other than discovery, OpenAPI, version "
              "and health are refused: their replies cannot be masked", False, _nonresource,
              as_rule=False),
    Guardrail("mask-exec-output", "exec/attach over an upgrade other than WebSocket or "
              "SPDY/3.1 are refused: their output cannot be masked", False, _exec_output,
              as_rule=False),
    Guardrail("no-placeholder-writes", "bodies that write a masked placeholder back are "
              "refused (422)", False, _placeholder_writes, as_rule=False),
    Guardrail("no-secret-copy", "JSON patches whose copy/move/test read a field other than "
              "names, uid, replicas or images are refused (403)", False, _secret_copy),
    Guardrail("no-impersonation", "Impersonate-* headers", True, _impersonation),
    Guardrail("no-token-request", "serviceaccounts/token (TokenRequest)", True, _token_request),
    Guardrail("no-sa-token-secrets", "Secrets of type kubernetes.io/service-account-token",
              True, _sa_token_secret),
    Guardrail("no-csr", "creating or approving CertificateSigningRequests", True, _csr),
    Guardrail("no-rbac-escalation", "escalate/bind/impersonate verbs; bindings to "
              "cluster-admin; roles with '*' verbs", True, _rbac_escalation),
    Guardrail("no-node-access", "nodes/proxy, nodes/log and other kubelet endpoints", True,
              _node_access),
    Guardrail("no-proxy-subresources", "pods/proxy, services/proxy, nodes/proxy", True,
              _proxy_subresources),
    Guardrail("no-ephemeral-containers", "pods/ephemeralcontainers (kubectl debug)", True,
              _ephemeral_containers),
)

BY_NAME: dict[str, Guardrail] = {g.name: g for g in GUARDRAILS}
