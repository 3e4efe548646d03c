"""A big reply is masked off the proxy's event loop: kubectl gets it masked all the same, and a
small call made meanwhile is answered (the loop is not held for the whole masking)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from tests.fixtures.kube import KubectlRunner
from tests.fixtures.proxy import Proxied


def _configmaps(n: int) -> str:
    items = [{"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": f"cfg-{i}", "namespace": "default"},
              "data": {"app.properties": f"db.password=BigReply{i}Secret\n" + "x=1\n" * 1500,
                       "note": "token " * 200}}
             for i in range(n)]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def test_a_big_list_is_masked_and_small_calls_are_answered_meanwhile(
        proxied: Proxied, kubectl: KubectlRunner, tmp_path: Path) -> None:
    kc = proxied.kubeconfig
    kubectl("apply", "-f", "-", kubeconfig=kc, input=_configmaps(60), timeout=120)
    result: dict[str, str] = {}

    def big() -> None:
        result["out"] = kubectl("get", "configmaps", "-o", "json", kubeconfig=kc,
                                timeout=120).stdout

    worker = threading.Thread(target=big)
    worker.start()
    small = kubectl("get", "namespace", "default", "-o", "name", kubeconfig=kc, timeout=60)
    worker.join()
    assert small.stdout.strip() == "namespace/default"
    out = result["out"]
    assert len(out) > 256 * 1024            # over the size masked off the loop
    assert "BigReply" not in out
    mine = {i["metadata"]["name"]: i for i in json.loads(out)["items"]
            if i["metadata"]["name"].startswith("cfg-")}
    assert len(mine) == 60
    assert mine["cfg-7"]["data"]["app.properties"].startswith("db.password=kgate:masked:")
