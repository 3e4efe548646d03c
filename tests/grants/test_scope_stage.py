"""The scope stage and the grant watch without sockets: messages, the clock, failing closed."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from kgate.grants.agents import SessionAgents
from kgate.grants.model import Grant, GrantState
from kgate.proxy.attributes import parse_request
from kgate.proxy.errors import Refusal
from kgate.proxy.grantwatch import watch_grant
from kgate.proxy.stages.scope import GrantScoped
from kgate.proxy.watchdog import SessionWatchdog
from tests.grants.helpers import pending_grant

T0 = 1_700_000_000.0


def _active(**kw: object) -> Grant:
    g = pending_grant(("payments",), ttl=600, now=T0)
    return replace(g, state=GrantState.ACTIVE, approver="local:human", approved_at=T0,
                   expires_at=T0 + 600, **kw)  # type: ignore[arg-type]


def _refusal(scope: GrantScoped, method: str, path: str, query: str = "") -> Refusal | None:
    try:
        scope.check(parse_request(method, path, query))
    except Refusal as refusal:
        return refusal
    return None


def test_messages_the_agent_sees() -> None:
    now = [T0 + 1]
    scope = GrantScoped(_active(), clock=lambda: now[0])
    assert _refusal(scope, "GET", "/api/v1/namespaces/payments/pods") is None
    assert _refusal(scope, "GET", "/version") is None and _refusal(scope, "GET", "/apis") is None
    out = _refusal(scope, "GET", "/api/v1/namespaces/other/pods")
    assert out is not None and out.code == 403 and out.rule == "grant-scope"
    assert out.message.startswith("kgate: namespace other is not granted: grant g-")
    now[0] = T0 + 600
    ended = _refusal(scope, "GET", "/api/v1/namespaces/payments/pods")
    assert ended is not None and ended.message == (
        f"kgate: grant {scope.grant_id} expired at 2023-11-14T22:23:20Z; ask for a new one "
        "with 'kgate request'")
    assert _refusal(scope, "GET", "/openapi/v3") is None          # discovery still passes


def test_revoked_message_names_time_and_reason() -> None:
    scope = GrantScoped(replace(_active(), state=GrantState.REVOKED, ended_at=T0 + 5,
                                ended_by="local:human", end_reason="incident over"),
                        clock=lambda: T0 + 6)
    out = _refusal(scope, "GET", "/api/v1/namespaces/payments/pods")
    assert out is not None and "was revoked at 2023-11-14T22:13:25Z (incident over)" in out.message


class _Exchange:
    def __init__(self) -> None:
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True


class _BrokenStore:
    def get(self, grant_id: str, now: float | None = None) -> Grant:
        raise OSError("disk gone")


def test_an_unreadable_store_fails_closed() -> None:
    import time

    grant = replace(_active(), expires_at=time.time() + 3600)
    scope, watchdog, open_stream = GrantScoped(grant), SessionWatchdog(), _Exchange()

    async def run() -> None:
        with watchdog.track(open_stream):
            await asyncio.wait_for(watch_grant(scope, _BrokenStore(), watchdog), 5)  # type: ignore[arg-type]

    asyncio.run(run())
    assert open_stream.aborted and watchdog.open_count == 0
    out = _refusal(scope, "GET", "/api/v1/namespaces/payments/pods")
    assert out is not None and "cannot be checked" in out.message


@pytest.mark.timeout(60)
def test_the_proxy_records_its_agent_pid(tmp_path: Path) -> None:
    import subprocess
    import sys

    from kgate.proxy.runner import ProxyOptions, ProxyThread
    from kgate.upstream_config import UpstreamSettings

    agent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        thread = ProxyThread(ProxyOptions(upstream=UpstreamSettings(
            server="https://127.0.0.1:9", source=tmp_path, context="c", token="t"),
            home=tmp_path, agent_pid=agent.pid))
        proxy = thread.start()
        agents = SessionAgents(tmp_path)
        assert agents.session_among([agent.pid]) == (proxy.session.id, agent.pid)
        thread.stop()
        assert agents.session_among([agent.pid]) is None     # ended with the session
        agents.close()
    finally:
        agent.kill()
        agent.wait()
