"""A value learned while a reply is walked (a sensitive flag's argument) is masked wherever else
it occurs in that reply, however many values the reply teaches at once."""

from __future__ import annotations

from typing import Any

import pytest

from kgate.proxy.masking import Masker

from .conftest import dumps, loads


def _pod(i: int) -> dict[str, Any]:
    return {"metadata": {"name": f"api-{i}", "namespace": "shop",
                         "annotations": {"runbook": f"if stuck, reconnect with pw{i}Recur7"}},
            "spec": {"containers": [{"name": "api", "image": "example/api:1",
                                     "args": [f"--db-password=pw{i}Recur7"]}]}}


@pytest.mark.parametrize("pods", [3, 40])
def test_a_learned_value_recurring_elsewhere_in_a_list_is_masked_there(
        masker: Masker, pods: int) -> None:
    body = dumps({"apiVersion": "v1", "kind": "PodList", "metadata": {},
                  "items": [_pod(i) for i in range(pods)]})
    out = masker.mask_json(body).body
    for i in range(pods):
        assert f"pw{i}Recur7".encode() not in out
    item = loads(out)["items"][1]
    assert item["metadata"]["annotations"]["runbook"].startswith("if stuck, reconnect with ")
    assert item["spec"]["containers"][0]["args"][0].startswith("--db-password=kgate:masked:")
