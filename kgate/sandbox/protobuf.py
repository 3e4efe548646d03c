"""Decode the protobuf request bodies kubectl 1.32 sends into the dicts their JSON would give.

kubectl's typed clients (``create secret|configmap|namespace|serviceaccount|deployment|token``,
``auth whoami``, ``auth can-i``) post ``application/vnd.kubernetes.protobuf`` bodies. The
sandbox stores JSON-shaped dicts, so it needs the same object kubectl would have sent as JSON.
This module carries a *partial* schema — the field numbers of Kubernetes' ``generated.proto`` for
the kinds above, checked against real captures in ``tests/sandbox/data`` — and maps each message
to JSON the way Go does:

* Go's protobuf encoder writes every non-pointer field, zero or not; ``encoding/json`` omits zero
  scalars (``omitempty``) but always writes structs. So zero scalars are dropped, present messages
  become dicts (even empty: ``resources: {}``, ``status: {}``), and the few pointer scalars whose
  zero is meaningful (``replicas: 0``, ``immutable: false``) are marked ``keep_zero``. A slice or
  pointer without ``omitempty`` (``TokenRequestSpec.audiences``) is JSON ``null`` when absent:
  those are marked ``null``.
* ``bytes`` values (Secret ``data``, ConfigMap ``binaryData``) become base64 text; maps are
  repeated entry messages (1 key, 2 value); a zero ``metav1.Time`` becomes ``null``;
  ``resource.Quantity`` becomes its string; ``IntOrString`` becomes an int or a string.
* A field the schema does not know is ignored only if it carries the zero value; anything else
  raises ``ValueError`` so the server refuses the body instead of silently dropping data.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

from kgate.protowire import (
    FIXED32,
    FIXED64,
    LEN,
    VARINT,
    FieldValue,
    as_bytes,
    as_int,
    as_str,
    iter_fields,
    read_envelope,
    read_map_entry,
)


@dataclass(frozen=True)
class F:
    """One field of a message: its JSON name and how to read it.

    ``kind`` is one of ``str``, ``bytes``, ``int``, ``bool``, ``msg`` (``ref`` names the message),
    ``inline`` (a Go embedded struct: its fields join the parent), ``map`` (``ref`` is the value
    kind: ``str``, ``bytes``, ``quantity`` or ``strings``), ``time``, ``quantity``, ``intstr``.
    """

    name: str
    kind: str = "str"
    ref: str = ""
    repeated: bool = False
    keep_zero: bool = False
    null: bool = False


def _rep(name: str, kind: str = "str", ref: str = "") -> F:
    return F(name, kind, ref, repeated=True)


def _ptr(name: str, kind: str) -> F:
    return F(name, kind, keep_zero=True)


def _nullable(name: str, kind: str = "str", ref: str = "", repeated: bool = False) -> F:
    return F(name, kind, ref, repeated=repeated, keep_zero=True, null=True)


Schema = dict[str, dict[int, F]]

SCHEMA: Schema = {
    "ObjectMeta": {
        1: F("name"), 2: F("generateName"), 3: F("namespace"), 4: F("selfLink"), 5: F("uid"),
        6: F("resourceVersion"), 7: F("generation", "int"), 8: F("creationTimestamp", "time"),
        9: F("deletionTimestamp", "time"), 10: _ptr("deletionGracePeriodSeconds", "int"),
        11: F("labels", "map", "str"), 12: F("annotations", "map", "str"),
        13: _rep("ownerReferences", "msg", "OwnerReference"), 14: _rep("finalizers"),
    },
    "OwnerReference": {
        1: F("kind"), 3: F("name"), 4: F("uid"), 5: F("apiVersion"),
        6: _ptr("controller", "bool"), 7: _ptr("blockOwnerDeletion", "bool"),
    },
    "ObjectReference": {
        1: F("kind"), 2: F("namespace"), 3: F("name"), 4: F("uid"), 5: F("apiVersion"),
        6: F("resourceVersion"), 7: F("fieldPath"),
    },
    "LocalObjectReference": {1: F("name")},
    "Secret": {
        1: F("metadata", "msg", "ObjectMeta"), 5: _ptr("immutable", "bool"),
        2: F("data", "map", "bytes"), 4: F("stringData", "map", "str"), 3: F("type"),
    },
    "ConfigMap": {
        1: F("metadata", "msg", "ObjectMeta"), 4: _ptr("immutable", "bool"),
        2: F("data", "map", "str"), 3: F("binaryData", "map", "bytes"),
    },
    "Namespace": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "NamespaceSpec"),
        3: F("status", "msg", "NamespaceStatus"),
    },
    "NamespaceSpec": {1: _rep("finalizers")},
    "NamespaceStatus": {1: F("phase")},
    "ServiceAccount": {
        1: F("metadata", "msg", "ObjectMeta"), 2: _rep("secrets", "msg", "ObjectReference"),
        3: _rep("imagePullSecrets", "msg", "LocalObjectReference"),
        4: _ptr("automountServiceAccountToken", "bool"),
    },
    "Deployment": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "DeploymentSpec"),
        3: F("status", "msg", "DeploymentStatus"),
    },
    "DeploymentSpec": {
        1: _ptr("replicas", "int"), 2: F("selector", "msg", "LabelSelector"),
        3: F("template", "msg", "PodTemplateSpec"), 4: F("strategy", "msg", "DeploymentStrategy"),
        5: F("minReadySeconds", "int"), 6: _ptr("revisionHistoryLimit", "int"),
        7: F("paused", "bool"), 9: _ptr("progressDeadlineSeconds", "int"),
    },
    "DeploymentStrategy": {1: F("type"), 2: F("rollingUpdate", "msg", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: F("maxUnavailable", "intstr"), 2: F("maxSurge", "intstr")},
    "DeploymentStatus": {
        1: F("observedGeneration", "int"), 2: F("replicas", "int"), 3: F("updatedReplicas", "int"),
        7: F("readyReplicas", "int"), 4: F("availableReplicas", "int"),
        5: F("unavailableReplicas", "int"), 8: _ptr("collisionCount", "int"),
    },
    "LabelSelector": {
        1: F("matchLabels", "map", "str"),
        2: _rep("matchExpressions", "msg", "LabelSelectorRequirement"),
    },
    "LabelSelectorRequirement": {1: F("key"), 2: F("operator"), 3: _rep("values")},
    "Pod": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "PodSpec"),
        3: F("status", "msg", "PodStatus"),
    },
    "PodStatus": {1: F("phase")},
    "PodTemplateSpec": {1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "PodSpec")},
    "PodSpec": {
        1: _rep("volumes", "msg", "Volume"), 20: _rep("initContainers", "msg", "Container"),
        2: _rep("containers", "msg", "Container"), 3: F("restartPolicy"),
        4: _ptr("terminationGracePeriodSeconds", "int"), 5: _ptr("activeDeadlineSeconds", "int"),
        6: F("dnsPolicy"), 7: F("nodeSelector", "map", "str"), 8: F("serviceAccountName"),
        9: F("serviceAccount"), 21: _ptr("automountServiceAccountToken", "bool"),
        10: F("nodeName"), 11: F("hostNetwork", "bool"), 12: F("hostPID", "bool"),
        13: F("hostIPC", "bool"), 15: _rep("imagePullSecrets", "msg", "LocalObjectReference"),
        16: F("hostname"), 17: F("subdomain"), 19: F("schedulerName"), 24: F("priorityClassName"),
    },
    "Container": {
        1: F("name"), 2: F("image"), 3: _rep("command"), 4: _rep("args"), 5: F("workingDir"),
        6: _rep("ports", "msg", "ContainerPort"), 19: _rep("envFrom", "msg", "EnvFromSource"),
        7: _rep("env", "msg", "EnvVar"), 8: F("resources", "msg", "ResourceRequirements"),
        9: _rep("volumeMounts", "msg", "VolumeMount"), 13: F("terminationMessagePath"),
        20: F("terminationMessagePolicy"), 14: F("imagePullPolicy"), 16: F("stdin", "bool"),
        17: F("stdinOnce", "bool"), 18: F("tty", "bool"),
    },
    "ContainerPort": {
        1: F("name"), 2: F("hostPort", "int"), 3: F("containerPort", "int"), 4: F("protocol"),
        5: F("hostIP"),
    },
    "EnvVar": {1: F("name"), 2: F("value"), 3: F("valueFrom", "msg", "EnvVarSource")},
    "EnvVarSource": {
        1: F("fieldRef", "msg", "ObjectFieldSelector"),
        2: F("resourceFieldRef", "msg", "ResourceFieldSelector"),
        3: F("configMapKeyRef", "msg", "KeySelector"), 4: F("secretKeyRef", "msg", "KeySelector"),
    },
    "ObjectFieldSelector": {1: F("apiVersion"), 2: F("fieldPath")},
    "ResourceFieldSelector": {
        1: F("containerName"), 2: F("resource"), 3: F("divisor", "quantity"),
    },
    "KeySelector": {
        1: F("", "inline", "LocalObjectReference"), 2: F("key"), 3: _ptr("optional", "bool"),
    },
    "EnvFromSource": {
        1: F("prefix"), 2: F("configMapRef", "msg", "EnvSource"),
        3: F("secretRef", "msg", "EnvSource"),
    },
    "EnvSource": {1: F("", "inline", "LocalObjectReference"), 2: _ptr("optional", "bool")},
    "ResourceRequirements": {
        1: F("limits", "map", "quantity"), 2: F("requests", "map", "quantity"),
    },
    "VolumeMount": {
        1: F("name"), 2: F("readOnly", "bool"), 3: F("mountPath"), 4: F("subPath"),
        5: F("mountPropagation"), 6: F("subPathExpr"),
    },
    "Volume": {1: F("name"), 2: F("", "inline", "VolumeSource")},
    "VolumeSource": {
        2: F("emptyDir", "msg", "EmptyDirVolumeSource"),
        6: F("secret", "msg", "SecretVolumeSource"),
        19: F("configMap", "msg", "ConfigMapVolumeSource"),
    },
    "EmptyDirVolumeSource": {1: F("medium"), 2: F("sizeLimit", "quantity")},
    "SecretVolumeSource": {
        1: F("secretName"), 2: _rep("items", "msg", "KeyToPath"),
        3: _ptr("defaultMode", "int"), 4: _ptr("optional", "bool"),
    },
    "ConfigMapVolumeSource": {
        1: F("", "inline", "LocalObjectReference"), 2: _rep("items", "msg", "KeyToPath"),
        3: _ptr("defaultMode", "int"), 4: _ptr("optional", "bool"),
    },
    "KeyToPath": {1: F("key"), 2: F("path"), 3: _ptr("mode", "int")},
    # authentication.k8s.io/v1: kubectl auth whoami, kubectl create token
    "SelfSubjectReview": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("status", "msg", "SelfSubjectReviewStatus"),
    },
    "SelfSubjectReviewStatus": {1: F("userInfo", "msg", "UserInfo")},
    "UserInfo": {
        1: F("username"), 2: F("uid"), 3: _rep("groups"), 4: F("extra", "map", "strings"),
    },
    "TokenRequest": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "TokenRequestSpec"),
        3: F("status", "msg", "TokenRequestStatus"),
    },
    "TokenRequestSpec": {
        1: _nullable("audiences", repeated=True), 4: _nullable("expirationSeconds", "int"),
        3: _nullable("boundObjectRef", "msg", "BoundObjectReference"),
    },
    "BoundObjectReference": {1: F("kind"), 2: F("apiVersion"), 3: F("name"), 4: F("uid")},
    "TokenRequestStatus": {1: _ptr("token", "str"), 2: F("expirationTimestamp", "time")},
    # authorization.k8s.io/v1: kubectl auth can-i (a verb and resource, a URL, or --list)
    "SelfSubjectAccessReview": {
        1: F("metadata", "msg", "ObjectMeta"),
        2: F("spec", "msg", "SelfSubjectAccessReviewSpec"),
        3: F("status", "msg", "SubjectAccessReviewStatus"),
    },
    "SelfSubjectAccessReviewSpec": {
        1: F("resourceAttributes", "msg", "ResourceAttributes"),
        2: F("nonResourceAttributes", "msg", "NonResourceAttributes"),
    },
    "ResourceAttributes": {
        1: F("namespace"), 2: F("verb"), 3: F("group"), 4: F("version"), 5: F("resource"),
        6: F("subresource"), 7: F("name"),
        8: F("fieldSelector", "msg", "FieldSelectorAttributes"),
        9: F("labelSelector", "msg", "LabelSelectorAttributes"),
    },
    "FieldSelectorAttributes": {
        1: F("rawSelector"), 2: _rep("requirements", "msg", "FieldSelectorRequirement"),
    },
    "FieldSelectorRequirement": {1: F("key"), 2: F("operator"), 3: _rep("values")},
    "LabelSelectorAttributes": {
        1: F("rawSelector"), 2: _rep("requirements", "msg", "LabelSelectorRequirement"),
    },
    "NonResourceAttributes": {1: F("path"), 2: F("verb")},
    "SubjectAccessReviewStatus": {
        1: _ptr("allowed", "bool"), 4: F("denied", "bool"), 2: F("reason"),
        3: F("evaluationError"),
    },
    "SelfSubjectRulesReview": {
        1: F("metadata", "msg", "ObjectMeta"),
        2: F("spec", "msg", "SelfSubjectRulesReviewSpec"),
        3: F("status", "msg", "SubjectRulesReviewStatus"),
    },
    "SelfSubjectRulesReviewSpec": {1: F("namespace")},
    "SubjectRulesReviewStatus": {
        1: _nullable("resourceRules", "msg", "ResourceRule", repeated=True),
        2: _nullable("nonResourceRules", "msg", "NonResourceRule", repeated=True),
        3: _ptr("incomplete", "bool"), 4: F("evaluationError"),
    },
    "ResourceRule": {
        1: _nullable("verbs", repeated=True), 2: _rep("apiGroups"), 3: _rep("resources"),
        4: _rep("resourceNames"),
    },
    "NonResourceRule": {1: _nullable("verbs", repeated=True), 2: _rep("nonResourceURLs")},
}

# (apiVersion, kind) -> root message. Only kinds whose schema above is complete enough to
# reproduce what kubectl sends; anything else is refused.
ROOTS: dict[tuple[str, str], str] = {
    ("v1", "Secret"): "Secret",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Namespace"): "Namespace",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "Pod"): "Pod",
    ("apps/v1", "Deployment"): "Deployment",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
    ("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "SelfSubjectRulesReview",
}


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a ``k8s\\0``-enveloped protobuf body into the object's JSON-shaped dict.

    Raises ``ValueError`` for a malformed body, a kind this module has no schema for, or a
    field it does not know that carries a value.
    """
    env = read_envelope(body)
    if env.content_encoding:
        raise ValueError(f"protobuf: unsupported contentEncoding {env.content_encoding!r}")
    root = ROOTS.get((env.api_version, env.kind))
    if root is None:
        raise ValueError(f"protobuf: no schema for {env.api_version} {env.kind}")
    obj: dict[str, Any] = {"kind": env.kind, "apiVersion": env.api_version}
    obj.update(decode_message(env.raw, root))
    return obj


def decode_message(raw: bytes | memoryview, message: str) -> dict[str, Any]:
    """Decode one message of the schema into a dict (see the module docstring for the rules)."""
    fields = SCHEMA[message]
    out: dict[str, Any] = {}
    for number, wire, value in iter_fields(raw):
        spec = fields.get(number)
        if spec is None:
            if _is_zero(wire, value):
                continue
            raise ValueError(f"protobuf: {message} field {number} is not supported")
        _decode_field(out, spec, value)
    for spec in fields.values():
        if spec.null and spec.name not in out:
            out[spec.name] = None
    return out


def _is_zero(wire: int, value: FieldValue) -> bool:
    if wire == LEN:
        return len(as_bytes(value)) == 0
    return wire in (VARINT, FIXED32, FIXED64) and value == 0


def _decode_field(out: dict[str, Any], spec: F, value: FieldValue) -> None:
    kind = spec.kind
    if kind == "map":
        key, item = read_map_entry(value)
        out.setdefault(spec.name, {})[key] = _scalar(spec.ref, item)
        return
    if kind == "inline":
        out.update(decode_message(as_bytes(value), spec.ref))
        return
    if kind == "msg":
        decoded: Any = decode_message(as_bytes(value), spec.ref)
    elif kind == "time":
        decoded = _time(as_bytes(value))
    else:
        decoded = _scalar(kind, value)
        if not spec.repeated and not spec.keep_zero and decoded in ("", 0, False):
            return
    if spec.repeated:
        out.setdefault(spec.name, []).append(decoded)
    else:
        out[spec.name] = decoded


def _scalar(kind: str, value: FieldValue) -> Any:
    if kind == "str":
        return as_str(value)
    if kind == "bytes":
        return base64.b64encode(as_bytes(value)).decode("ascii")
    if kind == "int":
        number = as_int(value)
        return number - (1 << 64) if number >= 1 << 63 else number
    if kind == "bool":
        return as_int(value) != 0
    if kind == "quantity":
        fields = {n: v for n, _w, v in iter_fields(as_bytes(value))}
        return as_str(fields[1]) if 1 in fields else "0"
    if kind == "intstr":
        return _intstr(as_bytes(value))
    if kind == "strings":       # a message of one repeated string (authentication ExtraValue)
        return [as_str(v) for n, _w, v in iter_fields(as_bytes(value)) if n == 1]
    raise ValueError(f"protobuf: unknown field kind {kind}")


def _intstr(raw: memoryview) -> int | str:
    typ, int_val, str_val = 0, 0, ""
    for number, _wire, value in iter_fields(raw):
        if number == 1:
            typ = as_int(value)
        elif number == 2:
            int_val = _scalar("int", value)
        elif number == 3:
            str_val = as_str(value)
    return str_val if typ == 1 else int_val


def _time(raw: memoryview) -> str | None:
    seconds = 0
    for number, _wire, value in iter_fields(raw):
        if number == 1:
            seconds = _scalar("int", value)
    if seconds == 0:
        return None
    try:
        stamp = dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError) as e:
        raise ValueError("protobuf: timestamp out of range") from e
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
