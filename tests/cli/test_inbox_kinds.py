"""The inbox is generic: another kind (beside grants and held requests) is listed, approved and
denied through the same commands and the same approval rules. typer's CliRunner, pinned env."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgate.cli import app
from kgate.errors import KgateError
from kgate.grants import inbox
from kgate.grants.errors import AlreadyDecided, NotFound
from kgate.grants.inbox import InboxItem


class FakeHolds:
    """A kind of its own (``x-…``): real held requests (``h-…``) are registered as well."""

    kind = "example"
    prefix = "x-"
    decided: dict[str, str] = {}

    def __init__(self, home: Path | None) -> None:
        self.home = home

    def pending(self) -> list[InboxItem]:
        if "x-91ab" in self.decided:
            return []
        return [InboxItem(id="x-91ab", kind="example", created_at="2026-12-01T10:00:00Z",
                          requester="s-0123456789ab", summary="delete deployments/api in prod",
                          details={"session": "s-0123456789ab", "method": "DELETE",
                                   "path": "/apis/apps/v1/namespaces/prod/deployments/api",
                                   "verb": "delete", "resource": "deployments",
                                   "namespace": "prod", "name": "api", "body": None,
                                   "diff": None})]

    def requester_of(self, item_id: str) -> str:
        if item_id != "x-91ab":
            raise NotFound(f"no hold {item_id}")
        return "s-0123456789ab"

    def approve(self, item_id: str, approver: str, comment: str | None) -> str:
        return self._decide(item_id, f"approved by {approver}")

    def deny(self, item_id: str, approver: str, reason: str | None) -> str:
        return self._decide(item_id, f"denied by {approver}")

    def _decide(self, item_id: str, outcome: str) -> str:
        if item_id in self.decided:
            raise AlreadyDecided(f"{item_id} is already {self.decided[item_id]}")
        self.decided[item_id] = outcome
        return f"{item_id} {outcome}"


def _run(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Exit code and output as ``kgate.cli.main`` would give them (it maps KgateError)."""
    result = CliRunner().invoke(app, args, env=env)
    if isinstance(result.exception, KgateError):
        return int(result.exception.exit_code), result.exception.message
    return result.exit_code, result.output


@pytest.fixture
def holds(tmp_path: Path) -> Iterator[dict[str, str]]:
    FakeHolds.decided = {}
    inbox.register_source(FakeHolds)
    try:
        yield {"KGATE_HOME": str(tmp_path), "NO_COLOR": "1", "COLUMNS": "200",
               "KGATE_SESSION": "", "KGATE_POLICY": ""}
    finally:
        inbox._FACTORIES.remove(FakeHolds)


def test_pending_lists_every_kind_with_its_details(holds: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["pending", "--json"], env=holds)
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.stdout)
    assert item["id"] == "x-91ab" and item["kind"] == "example"
    assert item["verb"] == "delete" and item["session"] == "s-0123456789ab"
    assert {"id", "kind", "created_at", "requester", "summary", "session", "method", "path",
            "verb", "resource", "namespace", "name", "body", "diff"} == set(item)


def test_approve_dispatches_on_prefix_and_applies_the_rules(holds: dict[str, str]) -> None:
    inside = _run(["approve", "x-91ab", "--yes"], {**holds, "KGATE_SESSION": "s-0123456789ab"})
    assert inside[0] == 5 and "inside kgate session" in inside[1]
    no_tty = _run(["approve", "x-91ab"], holds)
    assert no_tty[0] == 5 and "without a terminal" in no_tty[1]
    assert FakeHolds.decided == {}
    ok = _run(["approve", "x-91ab", "--yes"], holds)
    assert ok[0] == 0 and "x-91ab approved by local:" in ok[1]
    again = _run(["deny", "x-91ab", "--yes"], holds)
    assert again[0] == 1 and "already approved" in again[1]
