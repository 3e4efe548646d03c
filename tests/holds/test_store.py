"""The hold store: atomic decisions across processes, one admission per approval, windows."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from kgate.holds.inbox import HoldSource
from kgate.holds.model import HoldRequest
from kgate.holds.store import HoldAlreadyDecided, HoldNotFound, HoldStore


def _request(path: str = "/api/v1/namespaces/a/configmaps/c", sha: str = "") -> HoldRequest:
    return HoldRequest(session="s-1", method="DELETE", path=path, body_sha256=sha,
                       verb="delete", api_group="", resource="configmaps", subresource="",
                       namespace="a", name="c", rule="review-deletes", message="m",
                       kubectl_command="kubectl delete", body={"kind": "DeleteOptions"},
                       diff="-a\n")


def _approve(home: str, hold_id: str, who: str, start: multiprocessing.synchronize.Event,
             results: multiprocessing.Queue[str]) -> None:
    store = HoldStore(Path(home))
    start.wait(10)
    try:
        store.approve(hold_id, who)
        results.put(f"won:{who}")
    except HoldAlreadyDecided:
        results.put(f"lost:{who}")


def test_two_approvers_in_two_processes_admit_once(tmp_path: Path) -> None:
    store = HoldStore(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    for _round in range(3):
        hold = store.create(_request(), timeout=60, replay_window=600)
        start, results = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_approve, args=(str(tmp_path), hold.id, who, start,
                                                    results)) for who in ("alice", "bob")]
        for p in procs:
            p.start()
        start.set()
        outcomes = sorted(results.get(timeout=60) for _ in procs)
        for p in procs:
            p.join(30)
        assert [o.split(":")[0] for o in outcomes] == ["lost", "won"]
        winner = outcomes[1].split(":")[1]
        assert store.get(hold.id).decided_by == winner  # type: ignore[union-attr]
        # And the approved request is admitted exactly once, however many try.
        wins: list[bool] = []

        def consume(hold_id: str = hold.id, wins: list[bool] = wins) -> None:
            wins.append(store.consume(hold_id))

        threads = [threading.Thread(target=consume) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert wins.count(True) == 1


def test_replay_matches_the_same_request_once_within_the_window(tmp_path: Path) -> None:
    store = HoldStore(tmp_path)
    hold = store.create(_request(sha="abc"), timeout=1, replay_window=600, now=1000)
    assert store.claim_replay("s-1", "DELETE", hold.request.path, "abc", now=1002) is None
    store.approve(hold.id, "alice", now=1005)
    assert store.claim_replay("s-1", "DELETE", hold.request.path, "other", now=1006) is None
    assert store.claim_replay("s-2", "DELETE", hold.request.path, "abc", now=1006) is None
    assert store.claim_replay("s-1", "GET", hold.request.path, "abc", now=1006) is None
    claimed = store.claim_replay("s-1", "DELETE", hold.request.path, "abc", now=1006)
    assert claimed is not None and claimed.id == hold.id
    assert store.claim_replay("s-1", "DELETE", hold.request.path, "abc", now=1007) is None


def test_an_approval_past_the_window_admits_nothing(tmp_path: Path) -> None:
    store = HoldStore(tmp_path)
    hold = store.create(_request(), timeout=1, replay_window=10, now=1000)
    with pytest.raises(HoldAlreadyDecided, match="expired"):
        store.approve(hold.id, "alice", now=1020)
    assert store.pending(now=1020) == []
    late = store.create(_request(), timeout=1, replay_window=10, now=2000)
    store.approve(late.id, "alice", now=2005)
    assert store.claim_replay("s-1", "DELETE", late.request.path, "", now=2016) is None


def test_inbox_source_shape_and_errors(tmp_path: Path) -> None:
    source = HoldSource(HoldStore(tmp_path))
    hold = source.store.create(_request(), timeout=60, replay_window=600)
    [item] = source.pending()
    assert (item.id, item.kind, item.requester) == (hold.id, "hold", "s-1")
    assert item.created_at.endswith("Z")
    for key in ("session", "method", "path", "verb", "resource", "namespace", "name", "body",
                "diff"):
        assert key in item.details
    assert source.requester_of(hold.id) == "s-1"
    assert "denied" in source.deny(hold.id, "local:alice", "no")
    with pytest.raises(HoldAlreadyDecided):
        source.approve(hold.id, "local:bob", None)
    with pytest.raises(HoldNotFound):
        source.approve("h-00000000", "local:bob", None)
    assert source.pending() == []
