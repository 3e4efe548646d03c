"""Kubeconfig files kgate hands out (reading the user's is `upstream_config.py`).

A generated kubeconfig is the only thing an agent gets. It names a loopback server, trusts the
loopback CA by value (never ``insecure-skip-tls-verify``) and carries a token that is worthless
anywhere but that server. It is written 0600 inside a 0700 directory.
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from kgate.config import private_dir, write_private


def render_kubeconfig(*, server: str, ca_pem: bytes, token: str, namespace: str | None = None,
                      name: str = "kgate") -> bytes:
    """Return kubeconfig YAML for one cluster/user/context named ``name``."""
    context: dict[str, str] = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {
            "server": server,
            "certificate-authority-data": base64.b64encode(ca_pem).decode(),
        }}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": context}],
        "current-context": name,
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False).encode()


def write_kubeconfig(path: Path, *, server: str, ca_pem: bytes, token: str,
                     namespace: str | None = None, name: str = "kgate") -> Path:
    """Write a kubeconfig 0600 (its directory made 0700 if kgate creates it) and return the path."""
    path = Path(path)
    if not path.parent.exists():
        private_dir(path.parent)
    write_private(path, render_kubeconfig(server=server, ca_pem=ca_pem, token=token,
                                          namespace=namespace, name=name))
    return path
