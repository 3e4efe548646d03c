"""Priming the masker before a pod's own output is relayed (pure).

``kubectl logs`` and ``kubectl exec … cat /etc/creds/password`` can print a Secret's value with
nothing around it for a detector to recognise. So before relaying logs or exec/attach output the
pipeline fetches the pod and every Secret its containers can read, and teaches the masker their
values. This module decides when that is needed and which Secrets a pod references; the pipeline
does the fetching, and ``masking.primed`` says which values of them are learned (all of them).
"""

from __future__ import annotations

from typing import Any

from kgate.proxy.attributes import RequestAttributes


def needs_priming(attrs: RequestAttributes) -> bool:
    """Logs and exec/attach output can print a Secret's value with no key around it (``cat`` of
    a mounted file): before relaying them the masker must know the pod's Secrets."""
    return attrs.is_pod_logs or (attrs.is_exec_like and attrs.subresource != "portforward")


def secrets_referenced_by(pod: Any) -> list[str]:
    """Names of the Secrets a pod's containers can read: env, envFrom, volumes, projections."""
    spec = pod.get("spec") if isinstance(pod, dict) else None
    if not isinstance(spec, dict):
        return []
    names: list[str] = []

    def add(name: Any) -> None:
        if isinstance(name, str) and name and name not in names:
            names.append(name)

    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _dicts(spec.get(key)):
            for env in _dicts(container.get("env")):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if isinstance(ref, dict):
                    add(ref.get("name"))
            for source in _dicts(container.get("envFrom")):
                ref = source.get("secretRef")
                if isinstance(ref, dict):
                    add(ref.get("name"))
    for volume in _dicts(spec.get("volumes")):
        secret = volume.get("secret")
        if isinstance(secret, dict):
            add(secret.get("secretName"))
        projected = volume.get("projected")
        if isinstance(projected, dict):
            for source in _dicts(projected.get("sources")):
                ref = source.get("secret")
                if isinstance(ref, dict):
                    add(ref.get("name"))
    return names


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


