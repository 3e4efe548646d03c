"""What a process in one of the sandbox's containers sees: its files, environment and streams.

The sandbox has no containers, so a pod gets a *view* built from its spec: a read-only file
tree (Secret and ConfigMap volumes mounted at their ``mountPath``, resolved through the
server's ``lookup``, plus ``/etc/hostname``) and an environment (container ``env``/``envFrom``
resolved the same way, plus ``HOSTNAME``, ``PATH``, ``HOME``). A ``Process`` pairs a view with
stdin (an ``Input``) and async writers for stdout and stderr; nothing here does network I/O.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Lookup = Callable[[str, str, str], dict[str, Any] | None]
Writer = Callable[[bytes], Awaitable[None]]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Input:
    """A stdin stream: ``read()`` returns the next chunk, ``b""`` at end of input."""

    def __init__(self, queue: asyncio.Queue[bytes] | None = None, data: bytes = b"") -> None:
        self._queue = queue
        self._data = data
        self._eof = queue is None and not data

    @classmethod
    def of(cls, data: bytes) -> Input:
        """A finished input holding ``data`` (used between pipeline stages)."""
        return cls(data=data)

    async def read(self) -> bytes:
        """Next chunk of input; ``b""`` once the writer has closed it."""
        if self._data:
            chunk, self._data = self._data, b""
            if self._queue is None:
                self._eof = True
            return chunk
        if self._eof or self._queue is None:
            return b""
        chunk = await self._queue.get()
        if not chunk:
            self._eof = True
        return chunk

    async def read_all(self) -> bytes:
        """Everything up to end of input."""
        parts = []
        while chunk := await self.read():
            parts.append(chunk)
        return b"".join(parts)


@dataclass
class PodView:
    """What a process in one container of the pod sees: files and environment."""

    files: dict[str, bytes]
    env: dict[str, str]
    hostname: str
    dirs: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for path in self.files:
            parts = path.strip("/").split("/")[:-1]
            for i in range(len(parts) + 1):
                self.dirs.add("/" + "/".join(parts[:i]))


def _decode_b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=False)
    except ValueError:
        return b""


def _source_data(lookup: Lookup, plural: str, namespace: str, name: str) -> dict[str, bytes]:
    """Key -> bytes of a Secret (``data``/``stringData``) or ConfigMap (``data``/``binaryData``)."""
    obj = lookup(plural, namespace, name) if name else None
    if not obj:
        return {}
    out: dict[str, bytes] = {}
    if plural == "secrets":
        out.update({k: _decode_b64(v) for k, v in (obj.get("data") or {}).items()})
        out.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    else:
        out.update({k: _decode_b64(v) for k, v in (obj.get("binaryData") or {}).items()})
        out.update({k: str(v).encode() for k, v in (obj.get("data") or {}).items()})
    return out


def find_container(pod: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    """The named container (or init container), or the first one when ``name`` is empty."""
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    if not name:
        return containers[0] if containers else None
    return next((c for c in containers if c.get("name") == name), None)


def build_view(pod: dict[str, Any], container: dict[str, Any], lookup: Lookup) -> PodView:
    """Resolve the container's mounts and environment against the server's objects."""
    meta = pod.get("metadata") or {}
    namespace, pod_name = meta.get("namespace", "default"), meta.get("name", "")
    hostname = (pod.get("spec") or {}).get("hostname") or pod_name
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    files: dict[str, bytes] = {"/etc/hostname": f"{hostname}\n".encode()}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name")) or {}
        if "secret" in volume:
            src = volume["secret"] or {}
            data = _source_data(lookup, "secrets", namespace, src.get("secretName", ""))
        elif "configMap" in volume:
            src = volume["configMap"] or {}
            data = _source_data(lookup, "configmaps", namespace, src.get("name", ""))
        else:
            continue
        items = src.get("items")
        mapping = {i["key"]: i.get("path", i["key"]) for i in items} if items else \
            {k: k for k in data}
        base = str(mount.get("mountPath", "/")).rstrip("/")
        sub = str(mount.get("subPath") or "")
        for key, rel in mapping.items():
            if key not in data:
                continue
            if sub:
                if rel == sub:
                    files[base or "/"] = data[key]
                continue
            files[f"{base}/{rel}"] = data[key]
    return PodView(files=files, env=_environment(pod, container, lookup, hostname),
                   hostname=hostname)


def _environment(pod: dict[str, Any], container: dict[str, Any], lookup: Lookup,
                 hostname: str) -> dict[str, str]:
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace", "default")
    env: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for key, plural in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
            if key in source:
                data = _source_data(lookup, plural, namespace, source[key].get("name", ""))
                env.update({prefix + k: v.decode(errors="replace") for k, v in data.items()})
    fields = {"metadata.name": meta.get("name", ""), "metadata.namespace": namespace,
              "spec.nodeName": (pod.get("spec") or {}).get("nodeName", ""),
              "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", ""),
              "status.podIP": (pod.get("status") or {}).get("podIP", "")}
    for var in container.get("env") or []:
        name = var.get("name", "")
        if "value" in var or "valueFrom" not in var:
            env[name] = str(var.get("value", ""))
            continue
        src = var["valueFrom"] or {}
        for key, plural in (("secretKeyRef", "secrets"), ("configMapKeyRef", "configmaps")):
            if key in src:
                ref = src[key]
                data = _source_data(lookup, plural, namespace, ref.get("name", ""))
                if ref.get("key") in data:
                    env[name] = data[ref["key"]].decode(errors="replace")
        if "fieldRef" in src:
            env[name] = str(fields.get(src["fieldRef"].get("fieldPath", ""), ""))
    env.setdefault("HOME", "/root")
    return env


@dataclass
class Process:
    """One running command: its view of the pod and its three standard streams."""

    view: PodView
    stdin: Input
    stdout: Writer
    stderr: Writer
