"""The stage order, pinned with fakes: body read and inspected before an awaited policy decision,
nothing sent upstream unless policy (or a human) admits it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgate.holds.gate import HoldGate
from kgate.holds.store import HoldStore
from kgate.policy import Decision, Facts, Policy, guardrails_only
from kgate.proxy.engine import UpgradedStream, UpstreamRequest
from kgate.proxy.pipeline import Pipeline
from kgate.proxy.session import Session
from kgate.proxy.stages.masking import EngineMasker, FrameMasker

Events = list[str]


@dataclass
class FakeDown:
    events: Events
    token: str
    method: str = "DELETE"
    raw_path: str = "/api/v1/namespaces/a/configmaps/c"
    raw_query: str = ""
    body: bytes = b'{"kind":"DeleteOptions","apiVersion":"v1"}'
    is_upgrade: bool = False
    status: int = 0
    reply: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.headers = [("Authorization", f"Bearer {self.token}"),
                        ("Content-Type", "application/json")]

    async def read_body(self, limit: int) -> bytes:
        self.events.append("read_body")
        return self.body

    async def respond(self, status: int, headers: Any, body: bytes) -> None:
        self.status, self.reply = status, body

    async def start(self, status: int, headers: Any) -> None:
        self.status = status

    async def write(self, chunk: bytes) -> None:
        self.reply += chunk

    async def finish(self) -> None:
        return None

    @property
    def started(self) -> bool:
        return False

    def abort(self) -> None:
        return None

    async def relay(self, upstream: UpgradedStream, frames: FrameMasker | None) -> int:
        raise AssertionError("no upgrades here")


class FakeResponse:
    status = 200
    headers = [("Content-Type", "application/json")]

    async def chunks(self) -> AsyncIterator[bytes]:
        yield b"{}"

    async def read(self, limit: int) -> bytes:
        return b'{"kind":"Status","status":"Success"}'

    def close(self) -> None:
        return None


@dataclass
class FakeUpstream:
    events: Events
    name: str = "fake"
    sent: list[UpstreamRequest] = field(default_factory=list)

    async def send(self, request: UpstreamRequest) -> FakeResponse:
        self.events.append(f"send {request.method}")
        self.sent.append(request)
        return FakeResponse()

    async def open_upgrade(self, request: UpstreamRequest) -> UpgradedStream:
        raise AssertionError("no upgrades here")


@dataclass
class RecordingPolicy:
    events: Events
    answer: Decision
    policy: Policy = field(default_factory=guardrails_only)
    seen: list[Facts] = field(default_factory=list)

    async def decide(self, facts: Facts) -> Decision:
        await asyncio.sleep(0)  # really awaited
        self.events.append("decide")
        self.seen.append(facts)
        return self.answer


def _pipeline(events: Events, answer: Decision, holds: HoldGate | None = None
              ) -> tuple[Pipeline, FakeUpstream, RecordingPolicy]:
    engine = EngineMasker()
    upstream = FakeUpstream(events)
    policy = RecordingPolicy(events, answer)
    pipeline = Pipeline(session=Session(), upstream=upstream, masker=engine, body_check=engine,
                        policy=policy, holds=holds)
    return pipeline, upstream, policy


def test_body_is_read_and_inspected_before_policy_then_forwarded() -> None:
    events: Events = []
    pipeline, upstream, policy = _pipeline(events, Decision("allow"))
    down = FakeDown(events, pipeline.session.token)
    asyncio.run(pipeline.handle(down))
    assert events == ["read_body", "decide", "send DELETE"]
    assert policy.seen[0].body == {"kind": "DeleteOptions", "apiVersion": "v1"}
    assert down.status == 200


def test_deny_and_review_without_a_store_send_nothing() -> None:
    for answer, code in ((Decision("deny", "r", "denied by rule r: no"), 403),
                         (Decision("review", "r", "look first"), 403)):
        events: Events = []
        pipeline, upstream, _ = _pipeline(events, answer)
        down = FakeDown(events, pipeline.session.token)
        asyncio.run(pipeline.handle(down))
        assert upstream.sent == [] and down.status == code
        assert json.loads(down.reply)["message"].startswith("kgate: ")


def test_review_times_out_with_the_id_then_a_late_approval_admits_once(tmp_path: Path) -> None:
    events: Events = []
    store = HoldStore(tmp_path)
    gate = HoldGate(store, timeout=0.3, replay_window=60, poll=0.05)
    pipeline, upstream, _ = _pipeline(events, Decision("review", "review-deletes", "m"), gate)

    def run() -> FakeDown:
        down = FakeDown(events, pipeline.session.token)
        asyncio.run(pipeline.handle(down))
        return down

    first = run()
    message = json.loads(first.reply)["message"]
    assert first.status == 403 and "held for review as h-" in message
    hold_id = message.split("held for review as ", 1)[1].split()[0]
    assert [s for s in upstream.sent if s.method == "DELETE"] == []
    HoldStore(tmp_path).approve(hold_id, "local:alice")
    assert run().status == 200
    assert len([s for s in upstream.sent if s.method == "DELETE"]) == 1
    third = run()
    assert third.status == 403 and hold_id not in json.loads(third.reply)["message"]
    assert len([s for s in upstream.sent if s.method == "DELETE"]) == 1
