"""Cost of the session log: proxy throughput with the log on vs off, append rate, verify rate.

* proxy: small GETs at 16 concurrent clients through two ``kgate`` proxies in their own processes
  in front of one sandbox — one with the session log (what ``kgate proxy`` runs), one without —
  measured in interleaved rounds; the goal is at most 10% fewer requests/s with the log;
* append: request-sized records submitted to a ``SessionLog`` (writer thread, batched fsync,
  checkpoints) until it is sealed, records/s;
* verify: ``verify_log`` over a 1,000,000-record log (goal: at least 400,000 records/s).

Run: ``python -m bench.audit_bench [--rounds 3] [--requests 2000] [--verify-records 1000000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.passthrough import read_endpoint
from bench.proxy_bench import Target, _seed, _throughput, _wait_file

ROOT = Path(__file__).resolve().parent.parent
REQUEST = {"t": 0.0, "method": "GET", "path": "/api/v1/namespaces/default/configmaps/small",
           "status": 200, "decision": "allow", "verb": "get", "version": "v1",
           "resource": "configmaps", "namespace": "default", "name": "small", "ms": 1.234,
           "bytes_out": 412, "command": "kubectl get configmap small", "id": 0,
           "kubectl_session": "0f4c2e7a-8b1d-4c3e-9a5f-6d7e8f9a0b1c"}


def _serve(upstream_kubeconfig: str, out: str, log: str) -> None:
    """A proxy in this process (``--serve``): with or without the session log."""
    from kgate.proxy.runner import ProxyOptions, start_proxy
    from kgate.upstream_config import load_upstream

    async def run() -> None:
        proxy = await start_proxy(ProxyOptions(upstream=load_upstream(Path(upstream_kubeconfig)),
                                               session_log=log == "on"))
        proxy.write_kubeconfig(Path(out))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await proxy.stop()

    asyncio.run(run())


def bench_proxy(rounds: int, requests: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="kgate-audit-bench-"))
    env = dict(os.environ, KGATE_HOME=str(tmp / "home"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        sb_kc = tmp / "sandbox.kubeconfig"
        sb = subprocess.Popen([sys.executable, "-m", "kgate", "sandbox", "--kubeconfig-out",
                               str(sb_kc)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        procs.append(sb)
        _wait_file(sb_kc, sb, "kgate sandbox")
        server, token, ctx = read_endpoint(sb_kc)
        asyncio.run(_seed(server, token, ctx))
        targets: list[Target] = []
        for log in ("off", "on"):
            out = tmp / f"agent-{log}.kubeconfig"
            p = subprocess.Popen([sys.executable, "-m", "bench.audit_bench", "--serve",
                                  str(sb_kc), str(out), log], cwd=ROOT, env=env)
            procs.append(p)
            _wait_file(out, p, f"proxy (log {log})")
            url, tok, kctx = read_endpoint(out)
            targets.append(Target(f"log {log}", url, tok, kctx, p.pid))

        async def measure() -> None:
            for rnd in range(rounds):
                for t in targets:
                    rps, cpu = await _throughput(t, requests)
                    t.rps.append(rps)
                    t.cpu_us.append(cpu)
                print(f"round {rnd + 1}/{rounds}", file=sys.stderr)

        asyncio.run(measure())
        off, on = (statistics.median(t.rps) for t in targets)
        cpu_off, cpu_on = (statistics.median(t.cpu_us) for t in targets)
        print(f"small GET req/s @16: log off {off:.0f}, log on {on:.0f} "
              f"({(1 - on / off) * 100:+.1f}% cost); server CPU µs/req: off {cpu_off:.0f}, "
              f"on {cpu_on:.0f}")
        return {"rps_off": off, "rps_on": on, "cpu_us_off": cpu_off, "cpu_us_on": cpu_on}
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


def bench_append(n: int) -> float:
    from kgate.audit.signing import FileKeyStore
    from kgate.audit.writer import SessionInfo, SessionLog
    home = Path(tempfile.mkdtemp(prefix="kgate-append-"))
    log = SessionLog(home / "sessions", SessionInfo("s-append", "local:bench"),
                     FileKeyStore(home))
    log.start()
    t0 = time.perf_counter()
    for i in range(n):
        log.submit("request", {**REQUEST, "t": time.time(), "id": i})
    log.close(timeout=600)
    rate = n / (time.perf_counter() - t0)
    print(f"append: {n} request records in {n / rate:.2f} s = {rate:,.0f} records/s "
          f"(writer thread, fsync ≤ 0.2 s apart, checkpoint every 1000)")
    return rate


def bench_verify(n: int) -> float:
    from kgate.audit import chain
    from kgate.audit.signing import FileKeyStore, key_id, sign
    from kgate.audit.verify import verify_log
    home = Path(tempfile.mkdtemp(prefix="kgate-verify-"))
    keys = FileKeyStore(home)
    key = keys.private_key()
    kid = key_id(key.public_key())
    path = home / "s-verify.jsonl"
    prev = chain.genesis("s-verify")
    with open(path, "wb", buffering=1 << 20) as f:
        def put(kind: str, fields: dict[str, object], signed: bool = False) -> None:
            nonlocal prev
            seq = put.seq  # type: ignore[attr-defined]
            if signed:
                fields = {**fields, "session": "s-verify", "records": seq, "key": kid}
                fields["sig"] = sign(key, chain.encode(prev, seq, kind, fields))
            line = chain.encode(prev, seq, kind, fields)
            f.write(line + b"\n")
            prev = chain.line_hash(line)
            put.seq = seq + 1  # type: ignore[attr-defined]
        put.seq = 0  # type: ignore[attr-defined]
        put("start", {"session": "s-verify", "identity": "local:bench", "t": time.time()})
        for i in range(1, n - 1):
            if i % 1000 == 0:
                put("checkpoint", {"t": time.time()}, signed=True)
            else:
                put("request", {**REQUEST, "t": time.time(), "id": i})
        put("end", {"t": time.time(), "head": prev}, signed=True)
    size = path.stat().st_size
    public = keys.public_key()
    assert public is not None
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        verdict = verify_log(path, public)
        best = max(best, verdict.records / (time.perf_counter() - t0))
    assert verdict.sealed and not verdict.tampered, verdict.summary()
    # The floor on this box: only hashing each line, nothing else.
    t0 = time.perf_counter()
    base = hashlib.sha256()
    with open(path, "rb") as f:
        for line in f:
            h = base.copy()
            h.update(line)
            h.digest()
    floor = n / (time.perf_counter() - t0)
    print(f"verify: {verdict.records:,} records ({size / 1e6:.0f} MB) at {best:,.0f} records/s "
          f"(best of 3); hashing the lines alone: {floor:,.0f} lines/s")
    path.unlink()
    return best


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        _serve(*sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--append-records", type=int, default=200_000)
    ap.add_argument("--verify-records", type=int, default=1_000_000)
    ap.add_argument("--skip-proxy", action="store_true")
    args = ap.parse_args()
    bench_append(args.append_records)
    bench_verify(args.verify_records)
    if not args.skip_proxy:
        bench_proxy(args.rounds, args.requests)


if __name__ == "__main__":
    main()
