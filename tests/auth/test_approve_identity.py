"""``kgate approve`` with an issuer configured: the approver is the signed-in person, matched
against the policy's ``approvers``, and only with a recent enough sign-in (step-up)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgate.cli import app
from kgate.errors import KgateError
from kgate.grants import inbox
from kgate.grants.errors import NotFound
from kgate.grants.inbox import InboxItem
from tests.auth.conftest import login_in_process
from tests.fixtures.idp import OIDCProvider


class OneItem:
    """A stand-in inbox kind holding one item requested by someone else."""

    kind, prefix = "example", "x-"
    decided: list[str] = []

    def __init__(self, home: Path | None) -> None:
        pass

    def pending(self) -> list[InboxItem]:
        return []

    def requester_of(self, item_id: str) -> str:
        if item_id != "x-1":
            raise NotFound(item_id)
        return "someone-else@example.com"

    def approve(self, item_id: str, approver: str, comment: str | None) -> str:
        OneItem.decided.append(approver)
        return f"{item_id} approved by {approver}"

    def deny(self, item_id: str, approver: str, reason: str | None) -> str:
        raise AssertionError("not used")


@pytest.fixture
def item() -> Iterator[None]:
    OneItem.decided = []
    inbox.register_source(OneItem)
    try:
        yield
    finally:
        inbox._FACTORIES.remove(OneItem)


def _approve(home: Path, policy: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["approve", "x-1", "--yes"], env={
        "KGATE_HOME": str(home), "KGATE_POLICY": str(policy), "KGATE_TOKEN_STORE": "file",
        "KGATE_SESSION": "", "NO_COLOR": "1"})
    if isinstance(result.exception, KgateError):
        return int(result.exception.exit_code), result.exception.message
    return result.exit_code, result.output


def test_the_signed_in_person_approves_and_an_old_sign_in_is_refused(
        home: Path, oidc_provider: OIDCProvider, item: None, tmp_path: Path) -> None:
    login_in_process(oidc_provider, home, "alice")
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: kgate.dev/v1\nkind: Policy\n"
                      "approvers: [alice@example.com]\napprovals: {maxAuthAge: 10s}\n")
    code, out = _approve(home, policy)
    assert code == 0, out
    assert OneItem.decided == ["alice@example.com"]
    # someone who is not an approver is refused, whoever signed in
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: kgate.dev/v1\nkind: Policy\napprovers: [bob@example.com]\n")
    code, out = _approve(home, other)
    assert code == 5 and "alice@example.com" in out
    # the same login, later than maxAuthAge: a refresh does not count as signing in again
    time.sleep(11)
    code, out = _approve(home, policy)
    assert code == 4 and "sign-in within the last" in out
    assert OneItem.decided == ["alice@example.com"]
