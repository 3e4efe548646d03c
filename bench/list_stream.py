"""Time to first byte, total time and the proxy's peak RSS for one big PodList (issue 15).

A ~10 MB PodList of ``bench.workload`` pods (secret-looking env literals, so masking has work)
is served by ``bench.replay``; ``bench.kgate_serve`` (session log off) runs the kgate found on
``PYTHONPATH`` in front of it, each in its own process. The client sends the List request
``--n`` times on fresh connections, one at a time, and reports the median time to the first
body byte and to the last, then the proxy's ``VmHWM``. Run it once per checkout to compare
(``PYTHONPATH=/path/to/other/checkout``).

Run: ``python -m bench.list_stream [--mb 10] [--n 5]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench.passthrough import read_endpoint
from bench.proxy_bench import Procs, _status_mib, _wait_file, _wait_line
from bench.replay import record
from bench.workload import realistic_pod
from kgate.kubeconfig import write_kubeconfig

PATH = "/api/v1/namespaces/bulk/pods"


def podlist(mb: float) -> bytes:
    items, size, i = [], 0, 0
    while size < mb * 1_000_000:
        raw = orjson.dumps(realistic_pod(i))
        items.append(raw)
        size += len(raw) + 1
        i += 1
    return (b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":['
            + b",".join(items) + b"]}")


def fetch(host: str, port: int, token: str, ctx: ssl.SSLContext) -> tuple[float, float, int]:
    """(seconds to the first body byte, seconds to the end, body bytes incl. chunk framing)."""
    sock = ctx.wrap_socket(socket.create_connection((host, port)), server_hostname=host)
    start = time.perf_counter()
    sock.sendall(f"GET {PATH} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                 "Accept: application/json\r\nConnection: close\r\n\r\n".encode())
    data = bytearray()
    first = 0.0
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        data += chunk
        if not first and (end := data.find(b"\r\n\r\n")) >= 0 and len(data) > end + 4:
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    sock.close()
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return first, total, len(body)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--n", type=int, default=5)
    args = ap.parse_args(argv)
    body = podlist(args.mb)
    procs = Procs()
    env = dict(os.environ)
    try:
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            record(tmp / "replay", {PATH: (200, "application/json", body)})
            rp = procs.start([sys.executable, "-m", "bench.replay", str(tmp / "replay"),
                              str(tmp / "replay-state")], env=env, stdout=subprocess.PIPE)
            url = _wait_line(rp, b"ready ", "bench.replay").split()[1].decode()
            ca = (tmp / "replay-state" / "ca.crt").read_bytes()
            upstream = write_kubeconfig(tmp / "up.kubeconfig", server=url, ca_pem=ca,
                                        token="bench-token")
            out = tmp / "agent" / "kubeconfig"
            out.parent.mkdir(mode=0o700)
            kp = procs.start([sys.executable, "-m", "bench.kgate_serve", str(upstream),
                              str(out)], env=env)
            _wait_file(out, kp, "kgate")
            server, token, ctx = read_endpoint(out)
            host, port = server.removeprefix("https://").rsplit(":", 1)
            idle = _status_mib(kp.pid, "VmRSS")
            runs = [fetch(host, int(port), token, ctx) for _ in range(args.n)]
            print(f"PodList {len(body) / 1e6:.1f} MB in, ~{runs[0][2] / 1e6:.1f} MB out, "
                  f"{args.n} requests")
            print(f"first byte  median {statistics.median(r[0] for r in runs) * 1000:7.0f} ms"
                  f"  (min {min(r[0] for r in runs) * 1000:.0f})")
            print(f"total       median {statistics.median(r[1] for r in runs) * 1000:7.0f} ms"
                  f"  (min {min(r[1] for r in runs) * 1000:.0f})")
            print(f"proxy RSS idle {idle:.0f} MiB, peak {_status_mib(kp.pid, 'VmHWM'):.0f} MiB, "
                  f"after {_status_mib(kp.pid, 'VmRSS'):.0f} MiB")
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
