"""Big replies are masked on a worker thread while the event loop masks small ones: the two must
not disturb each other's walk, and what one learns the other sees."""

from __future__ import annotations

import threading
from typing import Any

from kgate.proxy.masking import Masker, MaskingSettings

from .conftest import KEY, b64, dumps, loads, secret


def _pod(i: int) -> dict[str, Any]:
    return {"metadata": {"name": f"web-{i}", "namespace": f"ns-{i % 7}",
                         "annotations": {"note": f"see https://u:hunter{i}x@db.example/x"}},
            "spec": {"containers": [{"name": "web", "image": "registry.example/web:1",
                                     "args": ["--db-password", f"argpw-{i}-zz"],
                                     "env": [{"name": "API_TOKEN", "value": f"envtok-{i}-qq"},
                                             {"name": "LOG_LEVEL", "value": "info"}]}]}}


def _big_list(n: int) -> bytes:
    return dumps({"apiVersion": "v1", "kind": "PodList", "metadata": {},
                  "items": [_pod(i) for i in range(n)]})


def test_a_big_list_on_a_thread_and_small_replies_beside_it_mask_as_alone() -> None:
    body = _big_list(4000)
    assert len(body) > 1024 * 1024
    small = [dumps(secret(f"s{i}", {"password": f"smallpw-{i}-k"})) for i in range(200)]
    small += [dumps({"kind": "Pod", "apiVersion": "v1", **_pod(10_000 + i)}) for i in range(200)]

    alone = Masker(MaskingSettings(), KEY)
    expected_big = alone.mask_json(body)
    expected_small = [alone.mask_json(b) for b in small]

    shared = Masker(MaskingSettings(), KEY)
    result: dict[str, Any] = {}

    def big() -> None:
        result["big"] = shared.mask_json(body)

    worker = threading.Thread(target=big)
    worker.start()
    got_small = [shared.mask_json(b) for b in small]
    worker.join()

    assert loads(result["big"].body) == loads(expected_big.body)
    assert result["big"].masked == expected_big.masked
    assert [loads(r.body) for r in got_small] == [loads(r.body) for r in expected_small]
    for text in (b"hunter17x", b"argpw-17-zz", b"envtok-17-qq"):
        assert text not in result["big"].body
    for r in got_small:
        assert b"smallpw-" not in r.body and b64("smallpw-3-k").encode() not in r.body


def test_what_a_worker_thread_learns_is_masked_in_streams_on_the_loop() -> None:
    masker = Masker(MaskingSettings(), KEY)
    body = dumps({"apiVersion": "v1", "kind": "SecretList", "metadata": {},
                  "items": [secret(f"s{i}", {"password": f"Learned{i}Value9"}, kind=False)
                            for i in range(50)]})
    worker = threading.Thread(target=masker.mask_json, args=(body,))
    worker.start()
    worker.join()
    stream = masker.text_stream()
    out = stream.feed(b"connecting with Learned42Value9 now\n") + stream.close()
    assert b"Learned42Value9" not in out
    assert b"kgate:masked:" in out


def test_placeholders_issued_on_a_worker_thread_are_restored_on_write_back() -> None:
    masker = Masker(MaskingSettings(), KEY)
    pod = {"kind": "Pod", "apiVersion": "v1", **_pod(5)}
    worker = threading.Thread(target=lambda: setattr(
        worker, "out", masker.mask_json(dumps(pod))))
    worker.start()
    worker.join()
    masked = loads(worker.out.body)  # type: ignore[attr-defined]
    env = masked["spec"]["containers"][0]["env"][0]["value"]
    assert env.startswith("kgate:masked:")
    verdict = masker.check_write_back(dumps(masked), "application/json", masked, kind="Pod",
                                      namespace="ns-5")
    assert not verdict.refused
    assert verdict.body is not None and b"envtok-5-qq" in verdict.body
