"""The proxy's hot path side by side: kgate vs the aiohttp floor vs ``kubectl proxy``.

Setup: ``kgate sandbox`` runs, and the harness creates through its API one small ConfigMap and
~1 MB of realistic Pods (``bench.workload``: env vars with secret-looking names holding literals,
args with flags, labels, annotations, probes). The sandbox's replies are recorded and served by
``bench.replay`` (uvloop + httptools, canned bytes: the sandbox itself manages ~600 small GETs/s
and a few PodLists/s here, which would cap every target); ``--upstream sandbox`` measures against
the live sandbox instead. In front of that upstream, each in its own process:

* ``kgate``: ``kgate proxy --no-grant`` (the session log on, masking on, the built-in policy:
  what a user runs);
* ``kgate log off``: the same without the session log (``bench.kgate_serve``), PodList and
  small req/s only;
* ``aiohttp floor``: ``bench.passthrough``, a bare aiohttp pass-through (a reference point, not
  kgate: kgate's proxy no longer uses aiohttp);
* ``kubectl proxy`` (Go; it serves plain HTTP to its client);
* ``direct``: the upstream itself, the base for "added" latency.

Cases, each measured in every round for every target in turn (interleaved, so drift hits all
alike): small GET latency on one keep-alive connection (p50/p99, added = target − direct);
small GET requests/s and server CPU µs per request with 16 and 64 connections; the 1 MB PodList
requests/s at 16 connections and CPU ms per request, and its p50 on one connection. After the
run: peak RSS (``VmHWM``) and RSS (``VmRSS``) of each server process. CPU is the server process's
user+system time from ``/proc/PID/stat`` over the measured window.

The client is ``bench.loadclient``: one process, raw asyncio ``Protocol`` + ``httptools`` on uvloop
with TLS from the stdlib, pre-encoded requests, bodies counted and dropped — cheap enough that the
servers, not the client, set the pace (it still shares the two cores with them).

``--profile`` runs the hottest case (PodList at 16 connections) once more against the kgate
target under py-spy (``py-spy record --pid``), or, when py-spy may not attach, against a
``python -m pyinstrument -m kgate proxy`` target, and prints the top 15 functions by self time.

Duration on this 2-core box: ~4 minutes by default, ~1.5 with ``--quick`` (80 s on 2026-12-02
at load 5); the PodList cases set the pace (each closed-loop window ends by waiting for the 16
PodLists still in flight).

Run: ``python -m bench.proxy_bench [--quick] [--rounds 3] [--json PATH] [--compare PATH]
[--profile] [--upstream replay|sandbox]``; ``python -m bench proxy …`` is the same.
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

from bench import profiling
from bench.loadclient import BadReply, Endpoint, Pool, run
from bench.passthrough import read_endpoint
from bench.replay import record
from bench.workload import PODLIST_PATH, SMALL_PATH, seed
from kgate.kubectl import find_kubectl

ROOT = Path(__file__).resolve().parent.parent
LARGE_PATH = PODLIST_PATH  # what the session-log bench imported by this name
MIB = 1024 * 1024

#: Goals of issue 15, kgate vs kubectl proxy in the same run: (metric, comparison, bound).
GOALS = (("small_rps16", ">=", 1.2), ("small_added_ms", "<=", 1.0), ("small_cpu_us16", "<=", 1.0),
         ("pods_rps16", ">=", 0.5), ("rss_after_mib", "<=", 1.3))


@dataclass
class Target:
    """One server to send requests to, and what was measured of it."""

    name: str
    url: str
    token: str | None
    ssl: ssl.SSLContext | bool | None
    pid: int | None = None
    #: Which cases run against it (None: all).
    cases: frozenset[str] | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)  # latency seconds, per case
    figures: dict[str, list[float]] = field(default_factory=dict)  # per-round values, per metric
    rps: list[float] = field(default_factory=list)  # small req/s @16 (the session-log bench)
    cpu_us: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.url, self.token,
                        self.ssl if isinstance(self.ssl, ssl.SSLContext) else None)

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.pid)

    def runs(self, case: str) -> bool:
        return self.cases is None or case in self.cases

    def add(self, metric: str, value: float) -> None:
        self.figures.setdefault(metric, []).append(value)


def _wait_file(path: Path, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
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


def _status_mib(pid: int | None, key: str) -> float:
    if pid is None:
        return 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- what the session-log bench (bench.audit_bench) imports -----------------------------------

async def _seed(server: str, token: str, ctx: ssl.SSLContext) -> int:
    """Create the small ConfigMap and the ~1 MB PodList; the PodList's size in bytes."""
    return (await seed(server, token, ctx))[1]


async def _throughput(t: Target, total: int, concurrency: int = 16) -> tuple[float, float]:
    """``total`` small GETs over ``concurrency`` connections: (requests/s, server CPU µs/req)."""
    pool = await Pool.open(t.endpoint, concurrency)
    try:
        n, elapsed, cpu = await pool.saturate(SMALL_PATH, total=total, probe=t.cpu_seconds)
    finally:
        pool.close()
    return n / elapsed, cpu / n * 1e6


# --- the cases --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    small_n: int  # sequential small GETs per round
    pods_n: int  # sequential PodLists per round
    seconds: float  # per throughput measurement
    pods_seconds: float


async def _latency(t: Target, label: str, path: str, n: int, budget: float) -> None:
    pool = await Pool.open(t.endpoint, 1)
    try:
        t.samples.setdefault(label, []).extend(await pool.latencies(path, n, budget))
    finally:
        pool.close()


async def _saturate(t: Target, path: str, conns: int, seconds: float) -> tuple[float, float]:
    pool = await Pool.open(t.endpoint, conns)
    try:
        mine = time.process_time()
        n, elapsed, cpu = await pool.saturate(path, seconds=seconds, probe=t.cpu_seconds)
        t.add(f"client_us_{'small' if path == SMALL_PATH else 'pods'}{conns}",
              (time.process_time() - mine) / n * 1e6)
    finally:
        pool.close()
    return n / elapsed, cpu / n


async def _case(case: str, t: Target, plan: Plan) -> None:
    if case == "small":
        await _latency(t, "small", SMALL_PATH, plan.small_n, plan.seconds)
    elif case == "small16":
        rps, cpu = await _saturate(t, SMALL_PATH, 16, plan.seconds)
        t.add("small_rps16", rps)
        t.add("small_cpu_us16", cpu * 1e6)
        t.rps.append(rps)
        t.cpu_us.append(cpu * 1e6)
    elif case == "small64":
        rps, cpu = await _saturate(t, SMALL_PATH, 64, plan.seconds)
        t.add("small_rps64", rps)
        t.add("small_cpu_us64", cpu * 1e6)
    elif case == "pods16":
        rps, cpu = await _saturate(t, PODLIST_PATH, 16, plan.pods_seconds)
        t.add("pods_rps16", rps)
        t.add("pods_cpu_ms16", cpu * 1e3)
    elif case == "pods":
        await _latency(t, "pods", PODLIST_PATH, plan.pods_n, plan.seconds)


CASES = ("small", "small16", "small64", "pods16", "pods")


async def _measure(targets: list[Target], rounds: int, plan: Plan) -> None:
    for rnd in range(rounds):
        for case in CASES:
            for t in targets:
                if t.runs(case):
                    try:
                        await _case(case, t, plan)
                    except BadReply as err:  # a figure short, not a lost run
                        t.errors.append(f"{case}: {err}")
                        print(f"{t.name}, {case}: {err}", file=sys.stderr, flush=True)
        print(f"round {rnd + 1}/{rounds} done", file=sys.stderr, flush=True)


# --- the report -------------------------------------------------------------------------------

def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000


def _figures(targets: list[Target]) -> dict[str, dict[str, float]]:
    """One number per metric per target: medians over rounds, percentiles over all samples."""
    direct = targets[0]
    out: dict[str, dict[str, float]] = {}
    for t in targets:
        row = {m: statistics.median(v) for m, v in t.figures.items()}
        for label in ("small", "pods"):
            if label in t.samples:
                row[f"{label}_p50_ms"] = _pct(t.samples[label], 50)
                row[f"{label}_p99_ms"] = _pct(t.samples[label], 99)
                row[f"{label}_added_ms"] = row[f"{label}_p50_ms"] - _pct(direct.samples[label], 50)
        row["peak_rss_mib"] = _status_mib(t.pid, "VmHWM")
        row["rss_after_mib"] = _status_mib(t.pid, "VmRSS")
        out[t.name] = row
    return out


COLUMNS = (  # (metric, heading, width, format)
    ("small_p50_ms", "p50 ms", 8, ".2f"), ("small_p99_ms", "p99", 7, ".2f"),
    ("small_added_ms", "added", 7, ".2f"), ("small_rps16", "req/s@16", 9, ",.0f"),
    ("small_cpu_us16", "µs/req", 7, ",.0f"), ("small_rps64", "req/s@64", 9, ",.0f"),
    ("small_cpu_us64", "µs/req", 7, ",.0f"), ("pods_rps16", "PL r/s@16", 10, ",.1f"),
    ("pods_cpu_ms16", "ms/req", 7, ".1f"), ("pods_added_ms", "PL +p50", 9, ".1f"),
    ("peak_rss_mib", "peak MiB", 9, ".0f"), ("rss_after_mib", "after", 6, ".0f"),
)


def _ratio_ok(value: float, op: str, bound: float) -> str:
    return "met" if (value >= bound if op == ">=" else value <= bound) else "MISSED"


def report(figures: dict[str, dict[str, float]], meta: dict[str, object]) -> None:
    print(f"\nupstream: {meta['upstream']}; PodList = {meta['pods']} pods, "
          f"{int(str(meta['podlist_bytes'])) / 1e6:.2f} MB; small GET = one ConfigMap; "
          f"{meta['rounds']} interleaved rounds; added = p50(target) − p50(direct)")
    print(f"{'':<26}{'small GET, 1 conn':^22}{'small GET, N conns':^32}{'1 MB PodList':^26}"
          f"{'server RSS':^15}")
    print(f"{'target':<26}" + "".join(f"{h:>{w}}" for _, h, w, _ in COLUMNS))
    for name, row in figures.items():
        cells = "".join(f"{format(row[m], f):>{w}}" if m in row else f"{'—':>{w}}"
                        for m, _, w, f in COLUMNS)
        print(f"{name:<26}{cells}")
    client = [row["client_us_small16"] for row in figures.values() if "client_us_small16" in row]
    if client:
        print(f"client (bench.loadclient) CPU per small GET at 16 connections: "
              f"{min(client):.0f}–{max(client):.0f} µs across targets")
    kp = figures.get("kubectl proxy")
    if kp is None:
        return
    print("\nvs kubectl proxy (goals of issue 15, session log on: "
          + ", ".join(f"{m} {op} {b}×" for m, op, b in GOALS) + ")")
    for name, row in figures.items():
        if not name.startswith("kgate") or "log off" in name:
            continue
        parts = []
        for metric, op, bound in GOALS:
            if metric not in row or metric not in kp:
                continue
            base = kp[metric]
            if metric == "small_added_ms" and base <= 0.05:
                # kubectl proxy serves plain HTTP to its client: its "added" can be ~0 or less.
                parts.append(f"{metric} {row[metric]:.2f} ms vs ~0 (n/a)")
                continue
            r = row[metric] / base
            parts.append(f"{metric} {r:.2f}× " if r >= 0.1 else f"{metric} {r:.3f}× ")
            parts[-1] += _ratio_ok(r, op, bound)
        print(f"  {name}: " + "; ".join(parts))


#: Target names in runs saved while kgate had two engines: the lean one is today's kgate.
_BEFORE_ISSUE_15 = {"kgate": "kgate (lean)", "kgate log off": "kgate (lean) log off"}


def compare(figures: dict[str, dict[str, float]], path: Path) -> None:
    """Ratios now/then for every target and metric that both runs have."""
    then = json.loads(path.read_text())["targets"]
    print(f"\nnow / {path} (>1: bigger now; for latency, CPU and RSS smaller is better; "
          "— where either side is ≤ 0)")
    metrics = [m for m, *_ in COLUMNS]
    print(f"{'target':<26}" + "".join(f"{h:>{w}}" for _, h, w, _ in COLUMNS))
    for name, row in figures.items():
        old = then.get(name, then.get(_BEFORE_ISSUE_15.get(name, "")))
        if old is None:
            print(f"{name:<26}(not in the saved run)")
            continue
        cells = "".join(
            f"{row[m] / old[m]:>{w}.2f}" if row.get(m, 0) > 0 and old.get(m, 0) > 0 else
            f"{'—':>{w}}" for m, (_, _, w, _) in zip(metrics, COLUMNS, strict=True))
        print(f"{name:<26}{cells}")


# --- processes --------------------------------------------------------------------------------

class Procs:
    """The subprocesses of one run, stopped (SIGTERM, then SIGKILL) in reverse order."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], **kw: object) -> subprocess.Popen[bytes]:
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        p: subprocess.Popen[bytes] = subprocess.Popen(args, **kw)  # type: ignore[call-overload]
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen[bytes], timeout: float = 20) -> None:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            self.stop(p)


def _upstream(procs: Procs, tmp: Path, env: dict[str, str], mode: str
              ) -> tuple[Path, Target, dict[str, object]]:
    """Start the sandbox, seed it, and (``replay``) the replaying upstream; its kubeconfig."""
    sb_kc = tmp / "sandbox.kubeconfig"
    sb = procs.start([sys.executable, "-m", "kgate", "sandbox", "--kubeconfig-out", str(sb_kc)],
                     env=env, cwd=ROOT)
    _wait_file(sb_kc, sb, "kgate sandbox")
    server, token, ctx = read_endpoint(sb_kc)
    pods, size = asyncio.run(seed(server, token, ctx))
    meta: dict[str, object] = {"pods": pods, "podlist_bytes": size, "upstream": mode}
    if mode == "sandbox":
        return sb_kc, Target("direct (sandbox)", server, token, ctx, sb.pid), meta
    replies = asyncio.run(_fetch(server, token, ctx, [SMALL_PATH, PODLIST_PATH, "/version",
                                                      "/api", "/apis"]))
    record(tmp / "replay", replies)
    procs.stop(sb)  # recorded: its CPU must not compete with the targets
    rp = procs.start([sys.executable, "-m", "bench.replay", str(tmp / "replay"),
                      str(tmp / "replay-state")], env=env, cwd=ROOT, stdout=subprocess.PIPE)
    url = _wait_line(rp, b"ready ", "bench.replay").split()[1].decode()
    from kgate.kubeconfig import write_kubeconfig
    ca = (tmp / "replay-state" / "ca.crt").read_bytes()
    kc = write_kubeconfig(tmp / "replay.kubeconfig", server=url, ca_pem=ca, token="bench-token")
    rctx = ssl.create_default_context(cadata=ca.decode())
    return kc, Target("direct (replay)", url, "bench-token", rctx, rp.pid), meta


async def _fetch(server: str, token: str, ctx: ssl.SSLContext, paths: list[str]
                 ) -> dict[str, tuple[int, str, bytes]]:
    import aiohttp
    out = {}
    hdrs = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
        for path in paths:
            async with s.get(server + path, headers=hdrs) as r:
                out[path] = (r.status, r.headers.get("Content-Type", "application/json"),
                             await r.read())
    return out


def _kgate_target(procs: Procs, tmp: Path, env: dict[str, str], upstream_kc: Path,
                  log: bool, argv_prefix: list[str] | None = None) -> Target:
    out = tmp / f"agent-{'on' if log else 'off'}-{len(procs.procs)}" / "kubeconfig"
    out.parent.mkdir(mode=0o700)
    if log:
        args = [*(argv_prefix or [sys.executable, "-m"]), "kgate", "proxy", "--no-grant",
                "--kubeconfig", str(upstream_kc), "--kubeconfig-out", str(out)]
    else:
        args = [sys.executable, "-m", "bench.kgate_serve", str(upstream_kc), str(out)]
    p = procs.start(args, env=env, cwd=ROOT)
    _wait_file(out, p, "kgate proxy")
    url, token, ctx = read_endpoint(out)
    name = "kgate" + ("" if log else " log off")
    return Target(name, url, token, ctx, p.pid,
                  cases=None if log else frozenset({"small16", "pods16"}))


def _targets(procs: Procs, tmp: Path, env: dict[str, str], upstream_kc: Path, direct: Target
             ) -> list[Target]:
    targets = [direct]
    fl = procs.start([sys.executable, "-m", "bench.passthrough", str(upstream_kc),
                      str(tmp / "floor")], cwd=ROOT, env=env, stdout=subprocess.PIPE)
    url = _wait_line(fl, b"ready ", "passthrough").split()[1].decode()
    floor_ctx = ssl.create_default_context(cafile=str(tmp / "floor" / "ca.crt"))
    targets.append(_kgate_target(procs, tmp, env, upstream_kc, log=True))
    targets.append(_kgate_target(procs, tmp, env, upstream_kc, log=False))
    targets.append(Target("aiohttp floor", url, "unused", floor_ctx, fl.pid))
    kp = procs.start([find_kubectl(ROOT), "proxy", "--port=0", f"--kubeconfig={upstream_kc}"],
                     stdout=subprocess.PIPE, env={"PATH": os.environ["PATH"], "HOME": str(tmp)})
    line = _wait_line(kp, b"Starting to serve on", "kubectl proxy")
    targets.append(Target("kubectl proxy", "http://" + line.split()[-1].decode(), None, None,
                          kp.pid))
    return targets


def _profile(procs: Procs, tmp: Path, env: dict[str, str], upstream_kc: Path,
             targets: list[Target], seconds: float, py_spy: bool = True,
             case: str = "podlist") -> None:
    path, what = (SMALL_PATH, "small GET") if case == "small" else (PODLIST_PATH, "1 MB PodList")
    kgate = next(t for t in targets if t.name.startswith("kgate") and t.cases is None)
    assert kgate.pid is not None
    out = tmp / "py-spy.txt"
    spy = profiling.start_py_spy(kgate.pid, out, seconds + 1) if py_spy else None
    if spy is not None:
        time.sleep(0.5)
        run(lambda: _saturate(kgate, path, 16, seconds))
        entries, why = profiling.finish_py_spy(spy, out)
        if entries:
            profiling.print_top(f"py-spy: {kgate.name}, {what} at 16 connections, "
                                f"top 15 by self time", entries)
            return
        print(f"\npy-spy could not profile ({why}); falling back to pyinstrument")
    stats = tmp / "pyinstrument.pstats"
    t = _kgate_target(procs, tmp, env, upstream_kc, log=True, argv_prefix=[
        sys.executable, "-m", "pyinstrument", "-r", "pstats", "-o", str(stats), "-m"])
    try:
        run(lambda: _saturate(t, path, 16, seconds))
    except BadReply as err:
        print(f"\nunder pyinstrument, {t.name} answered {err}")
    # pyinstrument writes its statistics once kgate has stopped (SIGTERM: it ends its exchanges).
    procs.stop(procs.procs[-1], timeout=90)
    if stats.exists() and stats.stat().st_size:
        profiling.print_top(f"pyinstrument: {t.name}, {what} at 16 connections, "
                            "top 15 by self time", profiling.pstats_top(stats))
    else:
        print("\npyinstrument wrote no statistics (did kgate stop within 90 s?)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one short round (~1 minute)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 3; --quick 1)")
    ap.add_argument("--seconds", type=float, help="per throughput measurement (default 1.0)")
    ap.add_argument("--json", type=Path, help="write the figures here (for --compare later)")
    ap.add_argument("--compare", type=Path, help="print ratios against a saved --json run")
    ap.add_argument("--profile", action="store_true",
                    help="profile kgate on the 1 MB PodList at 16 connections (py-spy)")
    ap.add_argument("--profile-case", choices=("podlist", "small"), default="podlist",
                    help="which case --profile samples (default: the 1 MB PodList)")
    ap.add_argument("--profiler", choices=("auto", "pyinstrument"), default="auto",
                    help="auto: py-spy, else pyinstrument; pyinstrument: skip py-spy")
    ap.add_argument("--upstream", choices=("replay", "sandbox"), default="replay")
    args = ap.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    secs = args.seconds or (0.6 if args.quick else 1.0)
    plan = Plan(small_n=100 if args.quick else 200, pods_n=4 if args.quick else 8,
                seconds=secs, pods_seconds=2 * secs)

    tmp = Path(tempfile.mkdtemp(prefix="kgate-bench-"))
    env = dict(os.environ, KGATE_HOME=str(tmp / "home"))
    procs = Procs()
    try:
        upstream_kc, direct, meta = _upstream(procs, tmp, env, args.upstream)
        targets = _targets(procs, tmp, env, upstream_kc, direct)
        notes: list[str] = []
        run(lambda: _measure(targets, rounds, plan))
        figures = _figures(targets)
        meta.update(rounds=rounds, date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    notes=notes, seconds=secs)
        notes += [f"{t.name}: {e}" for t in targets for e in t.errors]
        report(figures, meta)
        for note in notes:
            print(f"note: {note}")
        if args.compare:
            compare(figures, args.compare)
        if args.json:
            args.json.write_text(json.dumps({"meta": meta, "targets": figures}, indent=2))
        if args.profile:
            _profile(procs, tmp, env, upstream_kc, targets, 3 * secs,
                     py_spy=args.profiler == "auto", case=args.profile_case)
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
