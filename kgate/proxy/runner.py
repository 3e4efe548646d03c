"""Starting and stopping one proxy run, in the caller's event loop or in a thread (tests).

``start_proxy`` wires the pieces: loopback TLS identity from ``$KGATE_HOME/pki``, a fresh
``Session``, the upstream client for the user's kubeconfig context, the grant (read from the grant
store, watched for its end, enforced by the scope stage), the pipeline with its stages (policy
and masking settings from the loaded policy; holds in ``$KGATE_HOME/kgate.db``), and the HTTPS
server. The grant id is given once (``ProxyOptions.grant_id``) and lives, while the proxy runs,
only in the scope stage. ``ProxyThread`` runs the same in a background event loop so synchronous
tests (and kubectl subprocesses) can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import socket
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

from kgate.config import kgate_home
from kgate.errors import ExitCode, KgateError
from kgate.grants.agents import SessionAgents
from kgate.grants.model import GrantState
from kgate.grants.store import SqliteGrantStore
from kgate.holds.gate import HoldGate
from kgate.holds.store import HoldStore
from kgate.kubeconfig import write_kubeconfig
from kgate.pki import issue_server_identity
from kgate.policy import Policy, load_policy
from kgate.proxy.credentials import KubeconfigAuth, UpstreamAuth
from kgate.proxy.engine import Listener, Upstream
from kgate.proxy.grantwatch import watch_grant
from kgate.proxy.lean.client import LeanUpstream
from kgate.proxy.lean.server import LeanServer
from kgate.proxy.masking import MaskingSettings
from kgate.proxy.pipeline import Pipeline
from kgate.proxy.session import Session
from kgate.proxy.stages.audit import AuditSink, NoAudit, open_session_log
from kgate.proxy.stages.masking import EngineMasker, RequestBodyCheck, ResponseMasker
from kgate.proxy.stages.policy import PolicyStage
from kgate.proxy.stages.scope import GrantScope, GrantScoped, Ungranted, ended_message
from kgate.proxy.watchdog import SessionWatchdog
from kgate.upstream_config import UpstreamSettings

T = TypeVar("T")


@dataclass
class ProxyOptions:
    """Everything a proxy run can be given; the defaults are today's seams."""

    upstream: UpstreamSettings
    home: Path | None = None
    port: int = 0
    sock: socket.socket | None = None
    # The grant to enforce (read from $KGATE_HOME/kgate.db); None runs unscoped (--no-grant).
    grant_id: str | None = None
    #: The loaded policy; None: the built-in default (``load_policy`` with no file).
    policy: Policy | None = None
    #: Overrides the policy's ``masking:`` block (tests of the masking engine).
    masking: MaskingSettings | None = None
    # The agent's process id when the caller starts the agent: recorded so that `kgate approve`
    # run from the agent's process tree is refused.
    agent_pid: int | None = None
    #: A session the caller prepared (``kgate exec`` mints it before the agent starts and
    #: writes the kubeconfig itself); None: a fresh one.
    session: Session | None = None
    # Replacements for the masking engine (tests of the seam only); None = the engine.
    masker: ResponseMasker | None = None
    body_check: RequestBodyCheck | None = None
    #: None: the session log under ``$KGATE_HOME/sessions`` (``session_log``), else NoAudit.
    audit: AuditSink | None = None
    session_log: bool = True
    agent_command: list[str] | None = None
    policy_hash: str | None = None  # recorded in the session's start record
    #: Where the session log reports that it cannot write (default: stderr).
    log_notify: Callable[[str], None] | None = None
    # Whose credential goes upstream: the kubeconfig's, or the user's OIDC ID token.
    upstream_auth: str = "kubeconfig"


@dataclass
class RunningProxy:
    """A started proxy: where it listens, which CA it presents, which token it accepts."""

    url: str
    ca_pem: bytes
    session: Session
    pipeline: Pipeline
    server: Listener
    upstream: Upstream
    watchdog: SessionWatchdog = field(default_factory=SessionWatchdog)
    # The grant watch, while one runs: it ends (returns) when the grant is over.
    grant_watch: asyncio.Task[None] | None = None
    _on_stop: list[Callable[[], Any]] = field(default_factory=list, repr=False)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def grant_id(self) -> str | None:
        return self.pipeline.scope.grant_id

    def write_kubeconfig(self, path: Path, namespace: str | None = None) -> Path:
        """The agent's kubeconfig (0600): loopback URL, loopback CA, this session's token."""
        ns = namespace if namespace is not None else self.pipeline.scope.default_namespace
        return write_kubeconfig(Path(path), server=self.url, ca_pem=self.ca_pem,
                                token=self.session.token, namespace=ns)

    async def stop(self) -> None:
        for undo in reversed(self._on_stop):
            result = undo()
            if asyncio.iscoroutine(result):
                await result
        self._on_stop.clear()
        await self.server.stop()
        try:
            await self.pipeline.audit.close()  # every exchange has ended: seal the log
        finally:
            await self.upstream.close()
            if self.pipeline.holds is not None:
                await self.pipeline.holds.close()


class GrantNotUsable(KgateError):
    """The grant the proxy was asked to enforce is not active."""

    exit_code = ExitCode.DENIED


def _grant_scope(home: Path, grant_id: str) -> tuple[GrantScoped, SqliteGrantStore]:
    store = SqliteGrantStore(home)
    try:
        grant = store.get(grant_id)
    except BaseException:
        store.close()
        raise
    if grant.state is not GrantState.ACTIVE:
        store.close()
        raise GrantNotUsable(ended_message(grant, grant.state).removeprefix("kgate: "),
                             hint="'kgate grants' lists the active ones")
    return GrantScoped(grant), store


UPSTREAM_AUTH_KINDS = ("kubeconfig", "oidc")


def upstream_auth(kind: str, settings: UpstreamSettings, home: Path) -> UpstreamAuth:
    """The credential object for ``--upstream-auth``; OIDC needs a prior ``kgate login``."""
    if kind == "kubeconfig":
        return KubeconfigAuth(settings)
    if kind == "oidc":
        from kgate.auth.current import CurrentLogin
        from kgate.proxy.oidc_auth import OidcUpstreamAuth

        login = CurrentLogin(home)
        login.fresh()  # fail now (exit 4, "run kgate login"), not on the agent's first call
        return OidcUpstreamAuth(settings, login)
    raise ValueError(f"unknown upstream auth {kind!r}; expected one of {UPSTREAM_AUTH_KINDS}")


async def start_proxy(options: ProxyOptions) -> RunningProxy:
    """Build the pipeline and start serving; returns once the socket accepts connections."""
    home = options.home or kgate_home()
    scope: GrantScope = Ungranted()
    store: SqliteGrantStore | None = None
    if options.grant_id is not None:
        scope, store = _grant_scope(home, options.grant_id)
    session = options.session or Session()
    pki = home / "pki"
    identity = issue_server_identity(pki)
    run_dir = pki / "runs" / session.id
    try:
        ssl_context = identity.server_context(run_dir)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)  # the key now lives only in memory
    policy = options.policy if options.policy is not None else load_policy(None, home)
    auth = await asyncio.to_thread(upstream_auth, options.upstream_auth, options.upstream, home)
    upstream = LeanUpstream(options.upstream, auth=auth)
    # One key per session: equal values, equal masks.
    engine = EngineMasker(options.masking or policy.masking)
    holds = HoldGate(HoldStore(home), policy.hold_timeout, policy.hold_replay_window,
                     policy.holds_notify)
    pipeline = Pipeline(
        session=session, upstream=upstream,
        masker=options.masker or engine, body_check=options.body_check or engine,
        scope=scope, policy=PolicyStage(policy), audit=_audit(options, home, session, policy),
        holds=holds)
    watchdog = SessionWatchdog()
    server = LeanServer(pipeline, ssl_context, watchdog)
    url = await server.start(port=options.port, sock=options.sock)
    running = RunningProxy(url=url, ca_pem=identity.ca_pem, session=session, pipeline=pipeline,
                           server=server, upstream=upstream, watchdog=watchdog)
    if store is not None and isinstance(scope, GrantScoped):
        task = running.grant_watch = asyncio.create_task(watch_grant(scope, store, watchdog))
        running._on_stop.append(store.close)
        running._on_stop.append(lambda: _cancel(task))
    if options.agent_pid is not None:
        agents = SessionAgents(home)
        agents.record(session.id, options.agent_pid)
        running._on_stop.append(agents.close)
        running._on_stop.append(lambda: agents.end(session.id))
    return running


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _audit(options: ProxyOptions, home: Path, session: Session, policy: Policy) -> AuditSink:
    if options.audit is not None:
        return options.audit
    if not options.session_log:
        return NoAudit()
    return open_session_log(home, session.id, grant=options.grant_id,
                            policy_hash=options.policy_hash or policy_digest(policy),
                            agent_command=options.agent_command, notify=options.log_notify)


def policy_digest(policy: Policy) -> str:
    """What the session-start record names the policy in force by: its source and a sha256 of
    its settings in canonical form (the same file gives the same digest)."""
    canonical = orjson.dumps(dict(policy.raw), option=orjson.OPT_SORT_KEYS, default=str)
    return f"{policy.source}@sha256:{hashlib.sha256(canonical).hexdigest()}"


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
