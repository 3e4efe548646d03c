"""The audit seam: no masked body copy without a log; a refusal is in the log before the agent
hears of it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from kgate.proxy.attributes import RequestAttributes
from kgate.proxy.runner import ProxyOptions, ProxyThread
from kgate.proxy.session import Exchange
from kgate.proxy.stages.audit import AuditSink, MemoryAudit, NoAudit
from kgate.proxy.stages.body import BodyFacts
from kgate.proxy.stages.masking import EngineMasker
from kgate.upstream_config import load_upstream
from tests.audit.conftest import Logged
from tests.fixtures.kube import KubectlRunner

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: seam, namespace: dev}
data: {LOG_LEVEL: info}
"""


class CountingEngine(EngineMasker):
    """The real engine, counting how often a log copy of a body is made."""

    copies = 0

    def log_copy(self, attrs: RequestAttributes, content_type: str, body: bytes,
                 facts: BodyFacts | None = None) -> Any:
        CountingEngine.copies += 1
        return super().log_copy(attrs, content_type, body, facts)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sink,copies", [(NoAudit, 0), (MemoryAudit, 1)])
def test_a_masked_body_copy_is_made_only_when_a_log_keeps_it(
        logged: Logged, kubectl: KubectlRunner, tmp_path: Path,
        sink: type[AuditSink], copies: int) -> None:
    CountingEngine.copies = 0
    thread = ProxyThread(ProxyOptions(upstream=load_upstream(logged.upstream_kubeconfig),
                                      home=tmp_path / "home", audit=sink(),
                                      body_check=CountingEngine()))
    proxy = thread.start()
    try:
        manifest = tmp_path / "cm.yaml"
        manifest.write_text(CONFIGMAP)
        kc = proxy.write_kubeconfig(tmp_path / "agent" / "kubeconfig")
        kubectl("create", "-f", str(manifest), kubeconfig=kc)
    finally:
        thread.stop()
    assert CountingEngine.copies == copies
    assert not (tmp_path / "home" / "sessions").exists()  # an explicit sink: no session log


class SlowAudit(MemoryAudit):
    """Acknowledges a refusal only after a delay, noting when."""

    def __init__(self) -> None:
        super().__init__()
        self.acked: list[float] = []

    async def record_now(self, exchange: Exchange) -> None:
        await asyncio.sleep(1.5)
        self.acked.append(time.monotonic())
        await super().record_now(exchange)


@pytest.mark.timeout(120)
def test_a_refusal_waits_for_the_log_before_the_agent_is_answered(
        logged: Logged, kubectl: KubectlRunner, tmp_path: Path) -> None:
    audit = SlowAudit()
    thread = ProxyThread(ProxyOptions(upstream=load_upstream(logged.upstream_kubeconfig),
                                      home=tmp_path / "home", audit=audit))
    proxy = thread.start()
    try:
        kc = proxy.write_kubeconfig(tmp_path / "agent" / "kubeconfig")
        denied = kubectl("--as=x", "get", "--raw", "/api/v1/namespaces/dev/pods",
                         kubeconfig=kc, check=False)
        answered = time.monotonic()
    finally:
        thread.stop()
    assert "no-impersonation" in denied.stderr
    [refused] = [e for e in audit.exchanges if e.decision == "deny"]
    assert refused.status == 403 and refused.impersonate_user == "x"
    # Recorded (1.5 s later) before kubectl had its answer, not after.
    assert len(audit.acked) == 1 and audit.acked[0] < answered


def test_other_components_record_events_but_cannot_forge_the_logs_own_records(
        tmp_path: Path) -> None:
    from kgate.audit.export import records
    from kgate.proxy.stages.audit import open_session_log

    async def run() -> None:
        sink = open_session_log(tmp_path / "home", "s-events0000", grant="g-7")
        await sink.record_event("grant-revoked", grant="g-7", by="local:alice")
        for reserved in ("start", "request", "checkpoint", "end", "log-gap"):
            with pytest.raises(ValueError):
                await sink.record_event(reserved)
        await sink.close()

    asyncio.run(run())
    log = tmp_path / "home" / "sessions" / "s-events0000.jsonl"
    kinds = {r["kind"]: r for r in records(log)}
    assert kinds["start"]["grant"] == "g-7" and "end" in kinds
    assert kinds["grant-revoked"]["by"] == "local:alice"
