"""The SQLite grant store: lifecycle, decisions recorded, and several processes at once."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from kgate.grants.errors import AlreadyDecided, NotFound
from kgate.grants.model import GrantState
from kgate.grants.store import SqliteGrantStore
from tests.grants.helpers import pending_grant


def test_lifecycle_and_who_when_why(tmp_path: Path) -> None:
    store = SqliteGrantStore(tmp_path)
    t0 = 1_000_000.0
    g = store.create(pending_grant(ttl=600, now=t0))
    assert store.get(g.id, now=t0 + 1).state is GrantState.PENDING
    active = store.approve(g.id, "local:human", "ok", now=t0 + 100)
    assert active.state is GrantState.ACTIVE
    assert active.expires_at == t0 + 100 + 600      # TTL counts from approval
    assert store.get(g.id, now=t0 + 699).state is GrantState.ACTIVE
    assert store.get(g.id, now=t0 + 700).state is GrantState.EXPIRED
    with pytest.raises(AlreadyDecided, match="already expired"):
        store.revoke(g.id, "local:human", "late", now=t0 + 800)
    events = store.events(g.id)
    assert [(e["action"], e["actor"], e["why"]) for e in events] == [
        ("request", "local:agent-user", "tests"), ("approve", "local:human", "ok")]
    assert events[1]["at"].endswith("Z")


def test_revoke_and_deny(tmp_path: Path) -> None:
    store = SqliteGrantStore(tmp_path)
    g = store.create(pending_grant())
    store.approve(g.id, "local:human", None)
    revoked = store.revoke(g.id, "local:human", "done")
    assert revoked.state is GrantState.REVOKED and revoked.end_reason == "done"
    assert store.get(g.id).state is GrantState.REVOKED
    d = store.create(pending_grant())
    assert store.deny(d.id, "local:human", "no").state is GrantState.DENIED
    with pytest.raises(AlreadyDecided, match="already denied"):
        store.approve(d.id, "local:human", None)
    with pytest.raises(NotFound):
        store.get("g-nope")


def test_pending_grant_expires_unanswered(tmp_path: Path) -> None:
    store = SqliteGrantStore(tmp_path)
    t0 = 2_000_000.0
    g = store.create(pending_grant(pending_for=3600, now=t0))
    assert store.get(g.id, now=t0 + 3599).state is GrantState.PENDING
    assert store.get(g.id, now=t0 + 3600).state is GrantState.EXPIRED
    assert store.grants(now=t0 + 3600) == []
    assert [x.id for x in store.grants(include_ended=True, now=t0 + 3600)] == [g.id]
    with pytest.raises(AlreadyDecided, match="expired unanswered"):
        store.approve(g.id, "local:human", None, now=t0 + 3601)


def _approve_many(home: str, ids: list[str], who: str, start: float,
                  out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = SqliteGrantStore(Path(home))
    while time.time() < start:
        time.sleep(0.001)
    won, lost, errors = 0, 0, []
    for grant_id in ids:
        try:
            store.approve(grant_id, who, None)
            won += 1
        except AlreadyDecided as err:
            assert "already approved" in err.message
            lost += 1
        except Exception as err:  # noqa: BLE001 - reported to the parent
            errors.append(f"{type(err).__name__}: {err}")
    for i in range(20):  # and some writes of its own
        try:
            store.create(pending_grant(requester=f"{who}-{i}"))
        except Exception as err:  # noqa: BLE001
            errors.append(f"{type(err).__name__}: {err}")
    out.put((who, won, lost, errors))


@pytest.mark.timeout(120)
def test_processes_hammering_lose_nothing_and_never_lock(tmp_path: Path) -> None:
    store = SqliteGrantStore(tmp_path)
    ids = [store.create(pending_grant()).id for _ in range(30)]
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start = time.time() + 0.5
    procs = [ctx.Process(target=_approve_many, args=(str(tmp_path), ids, f"approver-{n}",
                                                     start, out)) for n in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=100) for _ in procs]
    for p in procs:
        p.join(10)
    assert all(not errors for *_, errors in results), results
    assert sum(won for _, won, _, _ in results) == len(ids)          # each approved once
    assert all(won + lost == len(ids) for _, won, lost, _ in results)
    everything = store.grants(include_ended=True)
    assert len(everything) == len(ids) + 4 * 20                     # no lost insert
    for grant_id in ids:
        approvals = [e for e in store.events(grant_id) if e["action"] == "approve"]
        assert len(approvals) == 1
        assert store.get(grant_id).approver == approvals[0]["actor"]
