"""Added latency and throughput of the kgate proxy, against its floor and kubectl proxy.

One run starts the sandbox API server (``kgate sandbox``) and, in front of it, three proxies: kgate
(``kgate proxy``), a bare aiohttp pass-through (``bench.passthrough``) and ``kubectl proxy`` (Go).
Every target is measured in interleaved rounds with the same client so ratios are comparable:

* latency: sequential requests on one keep-alive connection, p50/p99, for a small GET and a ~1 MB
  list; "added" is target minus direct-to-sandbox;
* throughput: requests/s for small GETs at 16 concurrent clients, and the server process's CPU time
  per request (from /proc).

Run: ``python -m bench.proxy_bench [--rounds 3] [--small 300] [--large 40] [--requests 2000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.passthrough import read_endpoint
from kgate.kubectl import find_kubectl

ROOT = Path(__file__).resolve().parent.parent
SMALL_PATH = "/api/v1/namespaces/default/configmaps/small"
LARGE_PATH = "/api/v1/namespaces/bulk/configmaps"


@dataclass
class Target:
    """One thing to send requests to."""

    name: str
    url: str
    token: str | None
    ssl: ssl.SSLContext | bool
    pid: int | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)
    rps: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)


def _wait_file(path: Path, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start (exit {proc.poll()})")
        time.sleep(0.02)


def _wait_line(proc: subprocess.Popen[bytes], prefix: bytes, what: str) -> bytes:
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"{what} exited before it was ready")
        if prefix in line:
            return line


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _seed(server: str, token: str, ctx: ssl.SSLContext) -> int:
    """Create one small ConfigMap and ~1 MB of ConfigMaps in namespace ``bulk``."""
    hdrs = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
        await s.post(f"{server}/api/v1/namespaces", headers=hdrs,
                     json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bulk"}})
        await s.post(f"{server}/api/v1/namespaces/default/configmaps", headers=hdrs, json={
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "small"},
            "data": {"LOG_LEVEL": "info"}})
        # ~10 kB of ordinary configuration per ConfigMap: what detectors scan in real lists.
        blob = "".join(f"upstream.svc{i}.host=svc-{i}.apps.svc.cluster.local\n"
                       f"upstream.svc{i}.port={8000 + i}\nfeature.flag{i}=enabled\n"
                       for i in range(110))[:10_000]
        for i in range(100):
            r = await s.post(f"{server}/api/v1/namespaces/bulk/configmaps", headers=hdrs, json={
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:03d}"},
                "data": {"payload": blob}})
            r.raise_for_status()
        async with s.get(server + LARGE_PATH, headers=hdrs) as r:
            return len(await r.read())


async def _latency(t: Target, path: str, n: int) -> list[float]:
    hdrs = {"Authorization": f"Bearer {t.token}"} if t.token else {}
    hdrs["Accept"] = "application/json"
    out: list[float] = []
    conn = aiohttp.TCPConnector(ssl=t.ssl, limit=1)
    async with aiohttp.ClientSession(connector=conn) as s:
        for i in range(n + 10):
            t0 = time.perf_counter()
            async with s.get(t.url + path, headers=hdrs) as r:
                await r.read()
                if r.status != 200:
                    raise SystemExit(f"{t.name}: {path} answered {r.status}")
            if i >= 10:
                out.append(time.perf_counter() - t0)
    return out


async def _throughput(t: Target, total: int, concurrency: int = 16) -> tuple[float, float]:
    hdrs = {"Authorization": f"Bearer {t.token}"} if t.token else {}
    hdrs["Accept"] = "application/json"
    left = total

    async def worker(s: aiohttp.ClientSession) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with s.get(t.url + SMALL_PATH, headers=hdrs) as r:
                await r.read()

    conn = aiohttp.TCPConnector(ssl=t.ssl, limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as s:
        await asyncio.gather(*(worker(s) for _ in range(4)))  # warm the pool
        left = total
        cpu0, t0 = _cpu_seconds(t.pid), time.perf_counter()
        await asyncio.gather(*(worker(s) for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - t0, _cpu_seconds(t.pid) - cpu0
    return total / elapsed, cpu / total * 1e6


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000


async def _measure(targets: list[Target], args: argparse.Namespace) -> None:
    for rnd in range(args.rounds):
        for t in targets:
            for label, path, n in (("small", SMALL_PATH, args.small),
                                   ("1MB list", LARGE_PATH, args.large)):
                t.samples.setdefault(label, []).extend(await _latency(t, path, n))
            rps, cpu = await _throughput(t, args.requests)
            t.rps.append(rps)
            t.cpu_us.append(cpu)
        print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr)


def _report(targets: list[Target], large_bytes: int) -> dict[str, object]:
    direct = targets[0]
    rows: dict[str, object] = {"large_list_bytes": large_bytes}
    print(f"\n1MB list = {large_bytes / 1e6:.2f} MB; added = p50(target) - p50(direct)\n")
    head = f"{'target':<22}{'small p50':>10}{'p99':>8}{'added':>8}{'1MB p50':>10}{'p99':>8}" \
           f"{'added':>8}{'req/s@16':>10}{'cpu µs/req':>11}"
    print(head)
    for t in targets:
        s, big = t.samples["small"], t.samples["1MB list"]
        add_s = _pct(s, 50) - _pct(direct.samples["small"], 50)
        add_b = _pct(big, 50) - _pct(direct.samples["1MB list"], 50)
        rps, cpu = statistics.median(t.rps), statistics.median(t.cpu_us)
        print(f"{t.name:<22}{_pct(s, 50):>10.2f}{_pct(s, 99):>8.2f}{add_s:>8.2f}"
              f"{_pct(big, 50):>10.2f}{_pct(big, 99):>8.2f}{add_b:>8.2f}{rps:>10.0f}{cpu:>11.0f}")
        rows[t.name] = {"small_p50_ms": _pct(s, 50), "small_p99_ms": _pct(s, 99),
                        "small_added_ms": add_s, "large_p50_ms": _pct(big, 50),
                        "large_p99_ms": _pct(big, 99), "large_added_ms": add_b,
                        "rps16": rps, "server_cpu_us_per_req": cpu}
    by = {t.name: t for t in targets}
    if {"kgate", "aiohttp floor", "kubectl proxy"} <= by.keys():
        def added(name: str, label: str) -> float:
            return _pct(by[name].samples[label], 50) - _pct(direct.samples[label], 50)
        print()
        for label in ("small", "1MB list"):
            kg, fl, kp = added("kgate", label), added("aiohttp floor", label), \
                added("kubectl proxy", label)
            # kubectl proxy serves plain HTTP to its client, so its "added" latency can be ~0
            # or negative: a ratio against it is only printed when it means something.
            vs_kp = f"{kg / kp:.2f}x" if kp > 0.05 else "n/a (kubectl proxy adds ~0 ms)"
            print(f"{label}: kgate/floor added = {kg / fl:.2f}x, kgate/kubectl-proxy added = "
                  f"{vs_kp}")
        cpu = {n: statistics.median(by[n].cpu_us) for n in ("kgate", "aiohttp floor",
                                                             "kubectl proxy")}
        print(f"server CPU per small GET: kgate/floor = {cpu['kgate'] / cpu['aiohttp floor']:.2f}x"
              f", kgate/kubectl-proxy = {cpu['kgate'] / cpu['kubectl proxy']:.2f}x, "
              f"floor/kubectl-proxy = {cpu['aiohttp floor'] / cpu['kubectl proxy']:.2f}x")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--small", type=int, default=300, help="sequential small GETs per round")
    ap.add_argument("--large", type=int, default=40, help="sequential 1 MB lists per round")
    ap.add_argument("--requests", type=int, default=2000, help="requests per throughput round")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="kgate-bench-"))
    env = dict(os.environ, KGATE_HOME=str(tmp / "home"))
    kgate = [sys.executable, "-m", "kgate"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        sb_kc = tmp / "sandbox.kubeconfig"
        sb = subprocess.Popen([*kgate, "sandbox", "--kubeconfig-out", str(sb_kc)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(sb)
        _wait_file(sb_kc, sb, "kgate sandbox")
        server, token, ctx = read_endpoint(sb_kc)
        large_bytes = asyncio.run(_seed(server, token, ctx))
        targets = [Target("direct (sandbox)", server, token, ctx, sb.pid)]

        fl = subprocess.Popen([sys.executable, "-m", "bench.passthrough", str(sb_kc),
                               str(tmp / "floor")], cwd=ROOT, env=env, stdout=subprocess.PIPE)
        procs.append(fl)
        url = _wait_line(fl, b"ready ", "passthrough").split()[1].decode()
        targets.append(Target("aiohttp floor", url, "unused", ctx_for(tmp / "floor"), fl.pid))

        agent_kc = tmp / "agent" / "kubeconfig"
        kg = subprocess.Popen([*kgate, "proxy", "--no-grant", "--kubeconfig", str(sb_kc),
                               "--kubeconfig-out",
                               str(agent_kc)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        procs.append(kg)
        _wait_file(agent_kc, kg, "kgate proxy")
        k_server, k_token, k_ctx = read_endpoint(agent_kc)
        targets.append(Target("kgate", k_server, k_token, k_ctx, kg.pid))

        kp = subprocess.Popen([find_kubectl(ROOT), "proxy", "--port=0", f"--kubeconfig={sb_kc}"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              env={"PATH": os.environ["PATH"], "HOME": str(tmp)})
        procs.append(kp)
        line = _wait_line(kp, b"Starting to serve on", "kubectl proxy")
        targets.append(Target("kubectl proxy", "http://" + line.split()[-1].decode(), None, False,
                              kp.pid))

        asyncio.run(_measure(targets, args))
        rows = _report(targets, large_bytes)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def ctx_for(state: Path) -> ssl.SSLContext:
    """Trust the CA the pass-through generated in ``state``."""
    return ssl.create_default_context(cafile=str(state / "ca.crt"))


if __name__ == "__main__":
    main()
