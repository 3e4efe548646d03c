"""A watch that runs for minutes through the proxy keeps memory flat (no whole-body buffering).

Slow by design, so a bare ``pytest`` skips it unless ``KGATE_SLOW=1``; ``make test`` (and so CI)
sets it. Duration: ``KGATE_SOAK_SECONDS``, default 120. The process holds the sandbox, the
proxy and the watching client, so flat RSS here means none of them accumulates the stream.
"""

from __future__ import annotations

import http.client
import os
import ssl
import threading
import time

import pytest

from tests.fixtures.proxy import Proxied

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("KGATE_SLOW") != "1",
                       reason="slow soak test; run with KGATE_SLOW=1"),
]
SECONDS = float(os.environ.get("KGATE_SOAK_SECONDS", "120"))


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _conn(url: str, ca_pem: bytes) -> http.client.HTTPSConnection:
    host, port = url.removeprefix("https://").split(":")
    return http.client.HTTPSConnection(host, int(port), timeout=30,
                                       context=ssl.create_default_context(cadata=ca_pem.decode()))


@pytest.mark.timeout(SECONDS * 2 + 120)
def test_long_watch_keeps_memory_flat(proxied: Proxied) -> None:
    token = proxied.proxy.session.token
    watch = _conn(proxied.proxy.url, proxied.proxy.ca_pem)
    watch.request("GET", "/api/v1/namespaces/default/configmaps?watch=1",
                  headers={"Authorization": f"Bearer {token}"})
    stream = watch.getresponse()
    assert stream.status == 200
    stop = threading.Event()
    payload = "x" * 4096

    def writer() -> None:
        conn = _conn(proxied.proxy.url, proxied.proxy.ca_pem)
        n = 0
        while not stop.is_set():
            body = ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"soak"},'
                    f'"data":{{"n":"{n}","pad":"{payload}"}}}}')
            method, path = ("POST", "/api/v1/namespaces/default/configmaps") if n == 0 else (
                "PUT", "/api/v1/namespaces/default/configmaps/soak")
            conn.request(method, path, body=body, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            conn.getresponse().read()
            n += 1
        conn.close()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    events, samples = 0, []
    start = time.monotonic()
    try:
        while time.monotonic() - start < SECONDS:
            line = stream.readline()
            assert line, "the watch ended early"
            events += 1
            if events % 500 == 0:
                samples.append((time.monotonic() - start, _rss_mib()))
    finally:
        stop.set()
        thread.join(30)
        watch.close()
    warm = [rss for t, rss in samples if t > SECONDS * 0.25]
    assert events > 1000 and len(warm) >= 2
    growth = warm[-1] - warm[0]
    print(f"{events} events in {SECONDS:.0f}s; RSS {warm[0]:.1f} → {warm[-1]:.1f} MiB")
    assert growth < 32, f"RSS grew {growth:.1f} MiB over the soak"
