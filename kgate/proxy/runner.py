"""Starting and stopping one proxy run, in the caller's event loop or in a thread (tests).

``start_proxy`` wires the pieces: loopback TLS identity from ``$KGATE_HOME/pki``, a fresh
``Session``, the upstream client for the user's kubeconfig context, the pipeline with its stages,
and the HTTPS server. ``ProxyThread`` runs the same in a background event loop so synchronous
tests (and kubectl subprocesses) can use it.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kgate.config import kgate_home
from kgate.kubeconfig import write_kubeconfig
from kgate.pki import issue_server_identity
from kgate.proxy.masking import MaskingSettings
from kgate.proxy.pipeline import Pipeline
from kgate.proxy.server import ProxyServer
from kgate.proxy.session import Session
from kgate.proxy.stages.audit import AuditSink, MemoryAudit
from kgate.proxy.stages.masking import EngineMasker, RequestBodyCheck, ResponseMasker
from kgate.proxy.stages.scope import GrantScope, Ungranted
from kgate.proxy.upstream import UpstreamClient
from kgate.upstream_config import UpstreamSettings

T = TypeVar("T")


@dataclass
class ProxyOptions:
    """Everything a proxy run can be given; the defaults are today's seams."""

    upstream: UpstreamSettings
    home: Path | None = None
    port: int = 0
    sock: socket.socket | None = None
    grant_id: str | None = None
    #: A session the caller prepared (``kgate exec`` mints it before the agent starts and
    #: writes the kubeconfig itself); None: a fresh one.
    session: Session | None = None
    scope: GrantScope | None = None
    masking: MaskingSettings = field(default_factory=MaskingSettings)
    # Replacements for the masking engine (tests of the seam only); None = the engine.
    masker: ResponseMasker | None = None
    body_check: RequestBodyCheck | None = None
    audit: AuditSink | None = None


@dataclass
class RunningProxy:
    """A started proxy: where it listens, which CA it presents, which token it accepts."""

    url: str
    ca_pem: bytes
    session: Session
    pipeline: Pipeline
    server: ProxyServer
    upstream: UpstreamClient

    @property
    def port(self) -> int:
        return self.server.port

    def write_kubeconfig(self, path: Path, namespace: str | None = None) -> Path:
        """The agent's kubeconfig (0600): loopback URL, loopback CA, this session's token."""
        ns = namespace if namespace is not None else self.pipeline.scope.default_namespace
        return write_kubeconfig(Path(path), server=self.url, ca_pem=self.ca_pem,
                                token=self.session.token, namespace=ns)

    async def stop(self) -> None:
        await self.server.stop()
        await self.upstream.close()


async def start_proxy(options: ProxyOptions) -> RunningProxy:
    """Build the pipeline and start serving; returns once the socket accepts connections."""
    home = options.home or kgate_home()
    session = options.session or Session(grant_id=options.grant_id)
    pki = home / "pki"
    identity = issue_server_identity(pki)
    run_dir = pki / "runs" / session.id
    try:
        ssl_context = identity.server_context(run_dir)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)  # the key now lives only in memory
    upstream = UpstreamClient(options.upstream)
    engine = EngineMasker(options.masking)  # one key per session: equal values, equal masks
    pipeline = Pipeline(
        session=session, upstream=upstream,
        masker=options.masker or engine, body_check=options.body_check or engine,
        scope=options.scope or Ungranted(options.grant_id),
        audit=options.audit if options.audit is not None else MemoryAudit())
    server = ProxyServer(pipeline, ssl_context)
    url = await server.start(port=options.port, sock=options.sock)
    return RunningProxy(url=url, ca_pem=identity.ca_pem, session=session, pipeline=pipeline,
                        server=server, upstream=upstream)


class ProxyThread:
    """Runs ``start_proxy`` in a private event loop on a daemon thread."""

    def __init__(self, options: ProxyOptions) -> None:
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kgate-proxy",
                                        daemon=True)
        self.proxy: RunningProxy | None = None

    def start(self, timeout: float = 30) -> RunningProxy:
        self._thread.start()
        self.proxy = self.run(lambda: start_proxy(self._options), timeout)
        return self.proxy

    def run(self, fn: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30) -> T:
        """Run a coroutine on the proxy's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(fn(), self._loop).result(timeout)

    def stop(self, timeout: float = 30) -> None:
        if self.proxy is not None:
            proxy, self.proxy = self.proxy, None
            self.run(proxy.stop, timeout)
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> RunningProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
