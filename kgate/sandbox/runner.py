"""Starting and stopping a sandbox API server: in the caller's loop or in a thread of its own.

``start_sandbox`` is for async callers (``kgate sandbox``, ``kgate demo``); ``sandbox_in_thread``
gives synchronous code (pytest) a server on its own event loop in a daemon thread. Either way the
server listens on 127.0.0.1 with a certificate from the loopback CA in ``state_dir``, and the
returned ``RunningSandbox`` knows how to write a kubeconfig for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from kgate.kubeconfig import write_kubeconfig
from kgate.pki import issue_server_identity
from kgate.sandbox.app import build_app
from kgate.sandbox.auth import Authenticator, TokenVerifier, UserInfo
from kgate.sandbox.controllers import Controllers
from kgate.sandbox.registry import default_registry
from kgate.sandbox.seed import seed_base, seed_demo
from kgate.sandbox.store import Store

T = TypeVar("T")

ADMIN_TOKEN = "sandbox-admin"
ADMIN_USER = UserInfo("sandbox-admin", ("system:masters", "system:authenticated"))


def _default_tokens() -> dict[str, UserInfo]:
    return {ADMIN_TOKEN: ADMIN_USER}


@dataclass
class SandboxOptions:
    """How to run a sandbox. ``tokens`` maps static bearer tokens to users."""

    state_dir: Path
    port: int = 0
    tokens: Mapping[str, UserInfo] = field(default_factory=_default_tokens)
    verifier: TokenVerifier | None = None
    seed: str | None = None

    def __post_init__(self) -> None:
        if self.seed not in (None, "demo"):
            raise ValueError(f"unknown seed {self.seed!r}; the only seed is 'demo'")
        if not self.tokens and self.verifier is None:
            raise ValueError("a sandbox needs at least one token or a token verifier")


class RunningSandbox:
    """A started sandbox: where it listens, what CA it uses, its store."""

    def __init__(self, *, url: str, port: int, ca_pem: bytes, admin_token: str, store: Store,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.url = url
        self.port = port
        self.ca_pem = ca_pem
        self.admin_token = admin_token
        self.store = store
        self._loop = loop

    def write_kubeconfig(self, path: Path, token: str | None = None,
                         namespace: str | None = None) -> Path:
        """Write a kubeconfig (0600) for this sandbox; the admin token unless ``token``."""
        return write_kubeconfig(Path(path), server=self.url, ca_pem=self.ca_pem,
                                token=token or self.admin_token, namespace=namespace,
                                name="sandbox")

    def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server's loop thread and return its result (thread-safe)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            return fn()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            try:
                future.set_result(fn())
            except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
                future.set_exception(err)

        self._loop.call_soon_threadsafe(call)
        return future.result(timeout=30)


def _admin_token(options: SandboxOptions) -> str:
    for token, user in options.tokens.items():
        if "system:masters" in user.groups:
            return token
    return next(iter(options.tokens), "") or secrets.token_urlsafe(16)


async def start_sandbox(options: SandboxOptions) -> tuple[web.AppRunner, RunningSandbox]:
    """Start serving on 127.0.0.1 in the running loop; stop with ``await runner.cleanup()``."""
    loop = asyncio.get_running_loop()
    identity = issue_server_identity(options.state_dir)
    ssl_ctx = identity.server_context(options.state_dir)
    registry = default_registry()
    store = Store()
    Controllers(store, registry, loop)
    seed_base(store, registry)
    if options.seed == "demo":
        seed_demo(store, registry)
    app = build_app(store, registry, Authenticator(options.tokens, options.verifier))
    runner = web.AppRunner(app, shutdown_timeout=1.0, handler_cancellation=True,
                           access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", options.port, ssl_context=ssl_ctx)
    await site.start()
    port = options.port
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        port = server.sockets[0].getsockname()[1]
    sandbox = RunningSandbox(url=f"https://127.0.0.1:{port}", port=port, ca_pem=identity.ca_pem,
                             admin_token=_admin_token(options), store=store, loop=loop)
    return runner, sandbox


@contextmanager
def sandbox_in_thread(options: SandboxOptions) -> Iterator[RunningSandbox]:
    """Run a sandbox on its own event loop in a daemon thread for the ``with`` block."""
    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future[tuple[web.AppRunner, RunningSandbox]] = (
        concurrent.futures.Future())

    def serve() -> None:
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            try:
                started.set_result(await start_sandbox(options))
            except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
                started.set_exception(err)

        loop.run_until_complete(boot())
        loop.run_forever()

    thread = threading.Thread(target=serve, name="kgate-sandbox", daemon=True)
    thread.start()
    runner, sandbox = started.result(timeout=30)
    try:
        yield sandbox
    finally:
        stop = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)
        try:
            stop.result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            if not thread.is_alive():
                loop.close()
