"""The broker's credential at run time, as an injected ``UpstreamAuth`` object.

The upstream client (``lean.client.LeanUpstream``) asks its ``UpstreamAuth`` for the
``Authorization`` header and the TLS context of each request and tells it when the API server
answered 401; it knows nothing of where the credential comes from. Two implementations:
``KubeconfigAuth`` (here: the user's kubeconfig credential — bearer tokens static, from a file or an
exec plugin, client certificates) and ``kgate.proxy.oidc_auth.OidcUpstreamAuth`` (the user's own
OIDC ID token, kept fresh).

``tokenFile`` is re-read when it changes (projected tokens rotate). Exec plugins run without a
terminal (``KUBERNETES_EXEC_INFO`` says ``interactive: false``), and their ExecCredential is
cached until ``expirationTimestamp`` (or until the API server answers 401). Client keys given as
``*-data`` are loaded through an anonymous in-memory file, never written to disk.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import ssl
import subprocess
import warnings
from dataclasses import dataclass, field
from typing import Protocol

from kgate.errors import AuthError
from kgate.upstream_config import ExecConfig, UpstreamSettings

EXEC_TIMEOUT = 60.0
_EARLY = dt.timedelta(seconds=10)


@dataclass(frozen=True, repr=False)
class ExecCredential:
    token: str | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    expires: dt.datetime | None = None

    def fresh(self, now: dt.datetime) -> bool:
        return self.expires is None or now + _EARLY < self.expires


def _parse_expiry(value: object) -> dt.datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def run_exec_plugin(cfg: ExecConfig, server: str, ca_pem: bytes | None) -> ExecCredential:
    """Run the plugin once and parse its ExecCredential (errors never include its output)."""
    spec: dict[str, object] = {"interactive": False}
    if cfg.provide_cluster_info:
        cluster: dict[str, object] = {"server": server}
        if ca_pem:
            import base64
            cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
        spec["cluster"] = cluster
    env = dict(os.environ)
    env.update(dict(cfg.env))
    env["KUBERNETES_EXEC_INFO"] = json.dumps(
        {"apiVersion": cfg.api_version, "kind": "ExecCredential", "spec": spec})
    try:
        proc = subprocess.run([cfg.command, *cfg.args], env=env, cwd=cfg.workdir,
                              stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=EXEC_TIMEOUT, check=False)
    except FileNotFoundError as err:
        raise AuthError(f"exec credential plugin {cfg.command!r} not found") from err
    except subprocess.TimeoutExpired as err:
        raise AuthError(f"exec credential plugin {cfg.command!r} did not answer within "
                        f"{EXEC_TIMEOUT:.0f}s") from err
    if proc.returncode != 0:
        raise AuthError(f"exec credential plugin {cfg.command!r} exited {proc.returncode}")
    try:
        doc = json.loads(proc.stdout)
        status = doc["status"]
        if doc.get("kind") != "ExecCredential" or not isinstance(status, dict):
            raise ValueError("not an ExecCredential")
    except (ValueError, KeyError, TypeError):
        raise AuthError(f"exec credential plugin {cfg.command!r} did not print an "
                        "ExecCredential") from None
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    token = status.get("token")
    if not token and not (cert and key):
        raise AuthError(f"exec credential plugin {cfg.command!r} returned neither a token nor "
                        "a client certificate and key")
    return ExecCredential(
        token=str(token) if token else None,
        client_cert_pem=str(cert).encode() if cert else None,
        client_key_pem=str(key).encode() if key else None,
        expires=_parse_expiry(status.get("expirationTimestamp")))


def load_cert_chain_from_memory(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """Load a client certificate and key without a file on disk (Linux memfd)."""
    fd = os.memfd_create("kgate-client-identity", os.MFD_CLOEXEC)
    try:
        os.write(fd, cert_pem.rstrip(b"\n") + b"\n" + key_pem)
        ctx.load_cert_chain(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


class UpstreamAuth(Protocol):
    """What the upstream client needs from a credential, whatever its kind."""

    async def authorization(self) -> str | None:
        """The ``Authorization`` header value for the next request (``None``: no header)."""
        ...

    async def ssl_context(self) -> ssl.SSLContext:
        """The TLS context for the next connection (server CA, client certificate if any)."""
        ...

    def on_unauthorized(self) -> None:
        """The API server answered 401: forget any cached credential before the next call."""
        ...


def cluster_tls_context(settings: UpstreamSettings, *, client_cert: bool = True
                        ) -> ssl.SSLContext:
    """The TLS context for the kubeconfig's cluster (its CA; its client cert if asked)."""
    s = settings
    if s.insecure_skip_tls_verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif s.ca_pem:
        ctx = ssl.create_default_context(cadata=s.ca_pem.decode())
    else:
        ctx = ssl.create_default_context()
    ctx.set_alpn_protocols(["http/1.1"])
    if client_cert and s.client_cert_pem and s.client_key_pem:
        load_cert_chain_from_memory(ctx, s.client_cert_pem, s.client_key_pem)
    return ctx


@dataclass
class KubeconfigAuth:
    """``UpstreamAuth`` from the user's kubeconfig: token, tokenFile, exec plugin, client cert."""

    settings: UpstreamSettings
    _file_token: tuple[float, int, str] | None = field(default=None, repr=False)
    _exec_cred: ExecCredential | None = field(default=None, repr=False)
    _exec_ctx: tuple[bytes, ssl.SSLContext] | None = field(default=None, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    _base_ctx: ssl.SSLContext | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.settings.insecure_skip_tls_verify:
            warnings.warn(f"{self.settings.source}: insecure-skip-tls-verify is set for context "
                          f"{self.settings.context}; the API server's identity is not checked",
                          stacklevel=2)

    def _new_context(self) -> ssl.SSLContext:
        return cluster_tls_context(self.settings)

    async def ssl_context(self) -> ssl.SSLContext:
        if self.settings.exec is not None:
            cred = await self._exec()
            if cred.client_cert_pem and cred.client_key_pem:
                ident = cred.client_cert_pem + cred.client_key_pem
                if self._exec_ctx is None or self._exec_ctx[0] != ident:
                    ctx = self._new_context()
                    load_cert_chain_from_memory(ctx, cred.client_cert_pem, cred.client_key_pem)
                    self._exec_ctx = (ident, ctx)
                return self._exec_ctx[1]
        if self._base_ctx is None:
            self._base_ctx = self._new_context()
        return self._base_ctx

    async def authorization(self) -> str | None:
        """The ``Authorization`` header value for the next request, if a token is used."""
        s = self.settings
        if s.token:
            return f"Bearer {s.token}"
        if s.token_file is not None:
            return f"Bearer {self._read_token_file(s.token_file)}"
        if s.exec is not None:
            cred = await self._exec()
            return f"Bearer {cred.token}" if cred.token else None
        return None

    def on_unauthorized(self) -> None:
        """Forget a cached exec credential (the API server answered 401)."""
        self._exec_cred = None

    invalidate = on_unauthorized

    def _read_token_file(self, path: os.PathLike[str]) -> str:
        try:
            st = os.stat(path)
            cached = self._file_token
            if cached is not None and cached[:2] == (st.st_mtime, st.st_size):
                return cached[2]
            with open(path, encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as err:
            raise AuthError(f"cannot read tokenFile {path}: {err.strerror}") from err
        if not token:
            raise AuthError(f"tokenFile {path} is empty")
        self._file_token = (st.st_mtime, st.st_size, token)
        return token

    async def _exec(self) -> ExecCredential:
        cfg = self.settings.exec
        assert cfg is not None
        async with self._lock:
            now = dt.datetime.now(dt.UTC)
            if self._exec_cred is None or not self._exec_cred.fresh(now):
                self._exec_cred = await asyncio.to_thread(
                    run_exec_plugin, cfg, self.settings.server, self.settings.ca_pem)
            return self._exec_cred


Credentials = KubeconfigAuth  # the name tests/test_kubeconfig_upstream.py imports
