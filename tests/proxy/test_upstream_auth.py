"""The upstream client takes its credential as an injected ``UpstreamAuth`` object.

A hand-written auth object (neither kubeconfig nor OIDC) drives a real sandbox over TLS: its
header is what the API server sees, its TLS context is used, and a 401 reaches
``on_unauthorized`` so it can drop a cached credential before the next call.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from kgate.proxy.credentials import KubeconfigAuth, UpstreamAuth, cluster_tls_context
from kgate.proxy.engine import UpstreamRequest
from kgate.proxy.lean.client import LeanUpstream
from kgate.sandbox.auth import UserInfo
from kgate.sandbox.runner import SandboxOptions, sandbox_in_thread
from kgate.upstream_config import UpstreamSettings, load_upstream


class CountingAuth:
    """Serves ``tokens`` in turn; counts what the client asked for."""

    def __init__(self, settings: UpstreamSettings, tokens: list[str]) -> None:
        self.settings = settings
        self.tokens = tokens
        self.asked = 0
        self.contexts = 0
        self.unauthorized = 0

    async def authorization(self) -> str | None:
        self.asked += 1
        return f"Bearer {self.tokens[0]}"

    async def ssl_context(self) -> ssl.SSLContext:
        self.contexts += 1
        return cluster_tls_context(self.settings, client_cert=False)

    def on_unauthorized(self) -> None:
        self.unauthorized += 1
        self.tokens.pop(0)


def test_injected_auth_is_used_and_told_about_401(tmp_path: Path) -> None:
    user = UserInfo("seam@example.com", ("system:masters", "system:authenticated"))
    options = SandboxOptions(state_dir=tmp_path / "sandbox", tokens={"good-token": user})
    with sandbox_in_thread(options) as sandbox:
        settings = load_upstream(sandbox.write_kubeconfig(tmp_path / "kc", token="unused"))
        auth = CountingAuth(settings, ["stale-token", "good-token"])
        _auth: UpstreamAuth = auth  # the protocol is satisfied structurally

        async def go() -> list[int]:
            client = LeanUpstream(settings, auth=auth)
            statuses = []
            try:
                for _ in range(2):
                    resp = await client.send(UpstreamRequest("GET", "/api/v1/namespaces", []))
                    await resp.read(1 << 20)
                    resp.close()
                    statuses.append(resp.status)
            finally:
                await client.close()
            return statuses

        assert asyncio.run(go()) == [401, 200]
    assert auth.asked == 2 and auth.contexts == 2
    assert auth.unauthorized == 1


def test_default_auth_is_the_kubeconfig_credential(tmp_path: Path) -> None:
    with sandbox_in_thread(SandboxOptions(state_dir=tmp_path / "s")) as sandbox:
        settings = load_upstream(sandbox.write_kubeconfig(tmp_path / "kc"))
        client = LeanUpstream(settings)
        assert isinstance(client.auth, KubeconfigAuth)
        assert asyncio.run(client.auth.authorization()) == f"Bearer {sandbox.admin_token}"
