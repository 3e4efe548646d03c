"""The hold gate: waits without blocking, notices decisions by polling, runs the notify hook."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from kgate.holds.gate import HoldGate
from kgate.holds.store import HoldStore
from tests.holds.test_store import _request


def test_notify_gets_the_hold_as_json_and_a_failing_hook_blocks_nothing(tmp_path: Path) -> None:
    out = tmp_path / "notified.json"
    hook = tmp_path / "hook.py"
    hook.write_text(f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())\n")

    async def run(notify: list[str]) -> tuple[str, float]:
        gate = HoldGate(HoldStore(tmp_path), timeout=1, replay_window=60, notify=notify,
                        poll=0.05)
        started = time.monotonic()
        outcome = await gate.hold(_request())
        await asyncio.sleep(0.5)  # let the hook finish writing
        await gate.close()
        return outcome.result, time.monotonic() - started

    result, _ = asyncio.run(run([sys.executable, str(hook)]))
    assert result == "timeout"
    payload = json.loads(out.read_text())
    assert payload["kind"] == "hold" and payload["id"].startswith("h-")
    assert payload["verb"] == "delete" and payload["diff"] == "-a\n"
    # A hook that does not exist, or that hangs, is logged and changes nothing.
    result, _ = asyncio.run(run([str(tmp_path / "missing")]))
    assert result == "timeout"
    result, took = asyncio.run(run(["sleep", "30"]))
    assert result == "timeout" and took < 20


def test_other_calls_go_on_while_one_waits(tmp_path: Path) -> None:
    async def run() -> tuple[str, int]:
        store = HoldStore(tmp_path)
        gate = HoldGate(store, timeout=30, replay_window=60, poll=0.05)
        waiting = asyncio.create_task(gate.hold(_request()))
        ticks = 0
        while not store.pending():
            await asyncio.sleep(0.01)
            ticks += 1
        for _ in range(10):  # the loop keeps running while the hold waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert not waiting.done()
        other = HoldStore(tmp_path)  # as another process would
        other.approve(store.pending()[0].id, "local:alice")
        outcome = await asyncio.wait_for(waiting, 10)
        await gate.close()
        return outcome.result, ticks

    result, ticks = asyncio.run(run())
    assert result == "approved" and ticks >= 10
