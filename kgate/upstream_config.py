"""Reading the user's kubeconfig: which API server kgate forwards to, and with what credential.

The result is a frozen ``UpstreamSettings`` validated when it is built: every problem is a
``ConfigError`` naming the kubeconfig file and the key. Supported credentials are the ones a
broker can use unattended: bearer ``token``/``tokenFile``, client certificates (file or
``*-data``) and exec credential plugins (``client.authentication.k8s.io/v1``). Relative paths are
resolved against the kubeconfig file that names them, as kubectl does.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from kgate.errors import ConfigError

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")


@dataclass(frozen=True)
class ExecConfig:
    """An exec credential plugin as the kubeconfig ``user.exec`` stanza describes it."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = EXEC_API_VERSIONS[0]
    interactive_mode: str = "Never"
    provide_cluster_info: bool = False
    workdir: Path = Path(".")


@dataclass(frozen=True)
class UpstreamSettings:
    """Where and how to reach the real API server. Secrets are kept out of ``repr``."""

    server: str
    source: Path
    context: str
    ca_pem: bytes | None = field(default=None, repr=False)
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    client_cert_pem: bytes | None = field(default=None, repr=False)
    client_key_pem: bytes | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    exec: ExecConfig | None = None

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.server)
        return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)

def default_kubeconfig_paths() -> list[Path]:
    """``$KUBECONFIG`` (a path list) or ``~/.kube/config``."""
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read kubeconfig: {err}") from err
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: a kubeconfig must be a mapping")
    return doc


def _named(doc: Mapping[str, Any], section: str, path: Path
           ) -> dict[str, tuple[dict[str, Any], Path]]:
    entries = doc.get(section) or []
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: {section} must be a list")
    out: dict[str, tuple[dict[str, Any], Path]] = {}
    key = section[:-1]
    for entry in entries:
        if not isinstance(entry, dict) or "name" not in entry:
            raise ConfigError(f"{path}: every entry of {section} needs a name")
        body = entry.get(key) or {}
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: {section}[{entry['name']}].{key} must be a mapping")
        out.setdefault(str(entry["name"]), (body, path))
    return out


def load_upstream(kubeconfig: Path | None = None, context: str | None = None) -> UpstreamSettings:
    """Build the upstream settings from a kubeconfig (default: ``$KUBECONFIG``/``~/.kube/config``).

    With several files the first definition of a name wins, as in kubectl's merge.
    """
    paths = [Path(kubeconfig).expanduser()] if kubeconfig else default_kubeconfig_paths()
    if kubeconfig and not paths[0].is_file():
        raise ConfigError(f"{paths[0]}: kubeconfig not found")
    clusters: dict[str, tuple[dict[str, Any], Path]] = {}
    users: dict[str, tuple[dict[str, Any], Path]] = {}
    contexts: dict[str, tuple[dict[str, Any], Path]] = {}
    current: tuple[str, Path] | None = None
    for path in paths:
        doc = _load(path)
        for name, value in _named(doc, "clusters", path).items():
            clusters.setdefault(name, value)
        for name, value in _named(doc, "users", path).items():
            users.setdefault(name, value)
        for name, value in _named(doc, "contexts", path).items():
            contexts.setdefault(name, value)
        if current is None and doc.get("current-context"):
            current = (str(doc["current-context"]), path)
    where = ", ".join(str(p) for p in paths)
    if context is None:
        if current is None:
            raise ConfigError(f"{where}: no current-context set",
                              hint="pass --context NAME or run 'kubectl config use-context'")
        context = current[0]
    if context not in contexts:
        raise ConfigError(f"{where}: context {context!r} not found")
    ctx, ctx_path = contexts[context]
    cluster_name, user_name = ctx.get("cluster"), ctx.get("user")
    if not cluster_name or cluster_name not in clusters:
        raise ConfigError(f"{ctx_path}: contexts[{context}].cluster names unknown cluster "
                          f"{cluster_name!r}")
    cluster, cluster_path = clusters[cluster_name]
    user, user_path = users.get(user_name or "", ({}, ctx_path))
    if user_name and user_name not in users:
        raise ConfigError(f"{ctx_path}: contexts[{context}].user names unknown user "
                          f"{user_name!r}")
    return _build(context, cluster_name, cluster, cluster_path, str(user_name or ""), user,
                  user_path)


def _file_or_data(body: Mapping[str, Any], file_key: str, data_key: str, path: Path,
                  where: str) -> bytes | None:
    has_file, has_data = bool(body.get(file_key)), bool(body.get(data_key))
    if has_file and has_data:
        raise ConfigError(f"{path}: {where} sets both {file_key} and {data_key}; keep one")
    if has_data:
        try:
            return base64.b64decode(str(body[data_key]), validate=True)
        except (binascii.Error, ValueError) as err:
            raise ConfigError(f"{path}: {where}.{data_key} is not valid base64") from err
    if has_file:
        file = _resolve(path, str(body[file_key]))
        try:
            return file.read_bytes()
        except OSError as err:
            raise ConfigError(f"{path}: {where}.{file_key}: cannot read {file}: "
                              f"{err.strerror}") from err
    return None


def _resolve(kubeconfig: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else kubeconfig.parent / p


def _build(context: str, cluster_name: str, cluster: Mapping[str, Any], cluster_path: Path,
           user_name: str, user: Mapping[str, Any], user_path: Path) -> UpstreamSettings:
    cwhere = f"clusters[{cluster_name}].cluster"
    server = str(cluster.get("server") or "")
    scheme = urlsplit(server).scheme
    if scheme not in ("https", "http") or not urlsplit(server).hostname:
        raise ConfigError(f"{cluster_path}: {cwhere}.server must be an https:// URL "
                          f"(got {server!r})")
    if cluster.get("proxy-url"):
        raise ConfigError(f"{cluster_path}: {cwhere}.proxy-url is not supported by kgate yet")
    ca = _file_or_data(cluster, "certificate-authority", "certificate-authority-data",
                       cluster_path, cwhere)
    insecure = bool(cluster.get("insecure-skip-tls-verify"))
    if insecure and ca:
        raise ConfigError(f"{cluster_path}: {cwhere} sets insecure-skip-tls-verify together "
                          "with a certificate authority; keep one")
    uwhere = f"users[{user_name}].user"
    for unsupported in ("auth-provider", "username", "password"):
        if user.get(unsupported):
            raise ConfigError(f"{user_path}: {uwhere}.{unsupported} is not supported by kgate",
                              hint="use a token, a client certificate or an exec plugin")
    cert = _file_or_data(user, "client-certificate", "client-certificate-data", user_path, uwhere)
    key = _file_or_data(user, "client-key", "client-key-data", user_path, uwhere)
    if bool(cert) != bool(key):
        raise ConfigError(f"{user_path}: {uwhere} needs both a client certificate and a key")
    token = str(user["token"]) if user.get("token") else None
    token_file = _resolve(user_path, str(user["tokenFile"])) if user.get("tokenFile") else None
    if token_file is not None and not token and not token_file.is_file():
        raise ConfigError(f"{user_path}: {uwhere}.tokenFile {token_file} does not exist")
    exec_cfg = _exec(user.get("exec"), user_path, uwhere) if user.get("exec") else None
    if scheme == "http" and (token or token_file or exec_cfg):
        raise ConfigError(f"{cluster_path}: {cwhere}.server is plain http; kgate will not send "
                          "a credential without TLS")
    return UpstreamSettings(
        server=server.rstrip("/"), source=user_path, context=context, ca_pem=ca,
        insecure_skip_tls_verify=insecure,
        tls_server_name=str(cluster["tls-server-name"]) if cluster.get("tls-server-name") else None,
        client_cert_pem=cert, client_key_pem=key, token=token,
        token_file=None if token else token_file, exec=exec_cfg)


def _exec(raw: Any, path: Path, uwhere: str) -> ExecConfig:
    where = f"{uwhere}.exec"
    if not isinstance(raw, dict) or not raw.get("command"):
        raise ConfigError(f"{path}: {where}.command is required")
    api_version = str(raw.get("apiVersion") or "")
    if api_version not in EXEC_API_VERSIONS:
        raise ConfigError(f"{path}: {where}.apiVersion {api_version!r} is not supported; use "
                          f"{EXEC_API_VERSIONS[0]}")
    mode = str(raw.get("interactiveMode") or ("IfAvailable" if api_version.endswith("beta1")
                                              else ""))
    if mode not in ("Never", "IfAvailable", "Always"):
        raise ConfigError(f"{path}: {where}.interactiveMode must be Never, IfAvailable or Always")
    if mode == "Always":
        raise ConfigError(f"{path}: {where}.interactiveMode is Always, but the kgate proxy has "
                          "no terminal to prompt on", hint="use a plugin that can run with "
                          "interactiveMode Never or IfAvailable")
    env_list = raw.get("env") or []
    if not isinstance(env_list, list) or not all(
            isinstance(e, dict) and "name" in e and "value" in e for e in env_list):
        raise ConfigError(f"{path}: {where}.env must be a list of {{name, value}}")
    args = raw.get("args") or []
    if not isinstance(args, list):
        raise ConfigError(f"{path}: {where}.args must be a list")
    command = str(raw["command"])
    if os.sep in command and not os.path.isabs(command):
        command = str(_resolve(path, command))
    return ExecConfig(
        command=command, args=tuple(str(a) for a in args),
        env=tuple((str(e["name"]), str(e["value"])) for e in env_list), api_version=api_version,
        interactive_mode=mode, provide_cluster_info=bool(raw.get("provideClusterInfo")),
        workdir=path.parent)
