"""The must-show tests of issue 15 (the hot path), against the proxy as a user runs it.

The sandbox and ``kgate proxy`` run as subprocesses, so the proxy's memory is its own ``/proc``
entry and its event loop competes with nothing in this process (the stalled-request test runs
the proxy on a thread, to shorten its head timeout). What they show:

* a client that stops reading a fast watch does not make kgate buffer the stream (RSS bound);
* while a 10 MB List of anchor-dense ConfigMaps is being masked, small GETs on another connection
  still answer within 50 ms (the one timing issue 15 asks a test for);
* and likewise while a pod's log dense with detector anchors streams through (a pod prints that
  at will; its chunks used to be masked on the event loop, which stalled every other call);
* 200 concurrent connections mixing watches, log follows and GETs all complete;
* a client that sends part of a request and stalls (or trickles it) is dropped after the
  request-head timeout while other clients are served.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http.client
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kgate.proxy.runner import ProxyOptions
from kgate.upstream_config import load_upstream
from tests.fixtures.proxy import permissive_policy_file, start_proxy_thread

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {key} for pid {pid}")


@dataclass
class Endpoint:
    """Where to send requests, with which token, trusting which CA."""

    host: str
    port: int
    token: str
    ca_pem: bytes

    @classmethod
    def from_kubeconfig(cls, path: Path) -> Endpoint:
        settings = load_upstream(path)
        assert settings.token is not None and settings.ca_pem is not None
        host, port = settings.server.removeprefix("https://").rsplit(":", 1)
        return cls(host, int(port), settings.token, settings.ca_pem)

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem.decode())

    def conn(self, timeout: float = 60) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                           context=self.ssl_context())

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json", **extra}

    def call(self, conn: http.client.HTTPConnection, method: str, path: str,
             body: object = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        hdrs = self.headers(**({"Content-Type": "application/json"} if data else {}))
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.read()


def _wait_file(path: Path, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what} did not start (exit {proc.poll()})")
        time.sleep(0.05)


@dataclass
class Stack:
    """``kgate sandbox`` and, in front of it, ``kgate proxy``: two processes."""

    sandbox: Endpoint
    proxy: Endpoint
    proxy_pid: int

    def rss_kib(self) -> int:
        return _status_kib(self.proxy_pid, "VmRSS")

    def peak_kib(self) -> int:
        return _status_kib(self.proxy_pid, "VmHWM")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    keep = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "KGATE_LOOP")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(KGATE_HOME=str(tmp_path / "home"), HOME=str(tmp_path), NO_COLOR="1")
    kgate = [sys.executable, "-m", "kgate"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        sb_kc = tmp_path / "sandbox.kubeconfig"
        procs.append(subprocess.Popen([*kgate, "sandbox", "--kubeconfig-out", str(sb_kc)],
                                      env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        _wait_file(sb_kc, procs[-1], "kgate sandbox")
        agent_kc = tmp_path / "agent" / "kubeconfig"
        policy = permissive_policy_file(tmp_path / "policy")
        procs.append(subprocess.Popen(
            [*kgate, "proxy", "--no-grant", "--kubeconfig", str(sb_kc), "--policy", str(policy),
             "--kubeconfig-out", str(agent_kc)], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_file(agent_kc, procs[-1], "kgate proxy")
        yield Stack(Endpoint.from_kubeconfig(sb_kc), Endpoint.from_kubeconfig(agent_kc),
                    procs[-1].pid)
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


def _namespace(ep: Endpoint, conn: http.client.HTTPConnection, name: str) -> None:
    status, body = ep.call(conn, "POST", "/api/v1/namespaces",
                           {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert status == 201, body[:300]


def _configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


# --- a slow reader on a fast watch ------------------------------------------------------------

WATCH_EVENTS = 2000
EVENT_PAD = 64 * 1024  # 2,000 events × 64 KiB ≈ 128 MiB of stream the reader never takes
RSS_BOUND_MIB = 64


def _read_head(sock: ssl.SSLSocket) -> bytes:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed before the reply head: {buf!r}"
        buf += chunk
    return buf


@pytest.mark.timeout(240)
def test_a_slow_reader_on_a_fast_watch_keeps_memory_bounded(stack: Stack) -> None:
    sb = stack.sandbox
    with contextlib.closing(sb.conn()) as c:
        _namespace(sb, c, "fast")
        status, _ = sb.call(c, "POST", "/api/v1/namespaces/fast/configmaps",
                            _configmap("hot", {"n": "0"}))
        assert status == 201
    with contextlib.closing(stack.proxy.conn()) as c:  # warm the proxy's paths once
        for _ in range(5):
            assert stack.proxy.call(c, "GET", "/api/v1/namespaces/fast/configmaps/hot")[0] == 200
    baseline = stack.rss_kib()

    # A reader with a small receive window that takes the reply head and then stops reading.
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    raw.settimeout(60)
    raw.connect((stack.proxy.host, stack.proxy.port))
    reader = stack.proxy.ssl_context().wrap_socket(raw, server_hostname=stack.proxy.host)
    with contextlib.closing(reader):
        reader.sendall((f"GET /api/v1/namespaces/fast/configmaps?watch=1&timeoutSeconds=600 "
                        f"HTTP/1.1\r\nHost: {stack.proxy.host}\r\nAuthorization: Bearer "
                        f"{stack.proxy.token}\r\nAccept: application/json\r\n\r\n").encode())
        assert _read_head(reader).startswith(b"HTTP/1.1 200")

        # Writers update one ConfigMap as fast as the sandbox takes it: each update is a
        # MODIFIED event of ~64 KiB on the watch.
        pad = "x" * EVENT_PAD
        errors: list[str] = []

        def write(part: int, count: int) -> None:
            with contextlib.closing(sb.conn()) as conn:
                for i in range(count):
                    status, body = sb.call(conn, "PUT", "/api/v1/namespaces/fast/configmaps/hot",
                                           _configmap("hot", {"n": f"{part}-{i}", "pad": pad}))
                    if status != 200:
                        errors.append(f"{status} {body[:200]!r}")
                        return

        writers = [threading.Thread(target=write, args=(p, WATCH_EVENTS // 4)) for p in range(4)]
        for w in writers:
            w.start()
        for w in writers:
            w.join(180)
        assert not errors, errors[:3]
        time.sleep(1)  # let whatever the proxy would buffer arrive
        grown_mib = (stack.peak_kib() - baseline) / 1024

        # The watch is still alive (kgate applied backpressure, it did not drop the stream):
        # the reader resumes and gets more events.
        got = 0
        while got < 2 * MIB:
            chunk = reader.recv(256 * 1024)
            assert chunk, "the proxy ended the watch instead of holding it back"
            got += len(chunk)
    stream_mib = WATCH_EVENTS * EVENT_PAD / MIB
    assert grown_mib < RSS_BOUND_MIB, (
        f"kgate's peak RSS grew by {grown_mib:.0f} MiB while a reader held a watch of "
        f"{stream_mib:.0f} MiB (bound {RSS_BOUND_MIB} MiB)")
    with contextlib.closing(stack.proxy.conn()) as c:
        assert stack.proxy.call(c, "GET", "/api/v1/namespaces/fast/configmaps/hot")[0] == 200


# --- a big anchor-dense List does not stall other calls ---------------------------------------

DENSE_UNITS = ("AKIA", "token ", "eyJaaaa.")
DENSE_ITEMS = 10  # × ~1 MB each
SMALL_GET_BUDGET_MS = 50
SMALL = "/api/v1/namespaces/default/configmaps/small"


def _small_gets_while(stack: Stack, busy: Callable[[], None]) -> list[float]:
    """Milliseconds of each small GET on a warm connection that completed while ``busy`` ran
    on another thread."""
    small = stack.proxy.conn()
    with contextlib.closing(small):
        assert stack.proxy.call(small, "GET", SMALL)[0] == 200   # open and warm first
        done = threading.Event()

        def run() -> None:
            try:
                busy()
            finally:
                done.set()

        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(0.05)
        during: list[float] = []
        while not done.is_set():
            t0 = time.perf_counter()
            status, _ = stack.proxy.call(small, "GET", SMALL)
            elapsed = (time.perf_counter() - t0) * 1000
            assert status == 200
            if not done.is_set():
                during.append(elapsed)
            time.sleep(0.02)
        worker.join(280)
    return during


# Slow-marked since the List masked at ~0.5 MB/s (~40 s); seconds now, off the loop.
@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("KGATE_SLOW") != "1", reason="slow; run with KGATE_SLOW=1")
@pytest.mark.timeout(300)
def test_small_gets_answer_while_a_dense_list_is_masked(stack: Stack) -> None:
    sb = stack.sandbox
    with contextlib.closing(sb.conn()) as c:
        _namespace(sb, c, "dense")
        for i in range(DENSE_ITEMS):
            unit = DENSE_UNITS[i % len(DENSE_UNITS)]
            status, body = sb.call(c, "POST", "/api/v1/namespaces/dense/configmaps", _configmap(
                f"dense-{i}", {"value": unit * (1_000_000 // len(unit))}))
            assert status == 201, body[:300]
        status, _ = sb.call(c, "POST", "/api/v1/namespaces/default/configmaps",
                            _configmap("small", {"LOG_LEVEL": "info"}))
        assert status == 201
    list_result: list[tuple[int, int]] = []

    def big_list() -> None:
        with contextlib.closing(stack.proxy.conn(timeout=280)) as conn:
            status, body = stack.proxy.call(conn, "GET", "/api/v1/namespaces/dense/configmaps")
            list_result.append((status, len(body)))

    during = _small_gets_while(stack, big_list)
    assert list_result and list_result[0][0] == 200
    assert list_result[0][1] > DENSE_ITEMS * 900_000, "the List came back short"
    assert len(during) >= 3, (
        f"only {len(during)} small GETs completed while the 10 MB List was in flight")
    median = statistics.median(during)
    assert median < SMALL_GET_BUDGET_MS, (
        f"small GETs took {median:.0f} ms (median of {len(during)}, max {max(during):.0f} ms) "
        f"while a 10 MB anchor-dense List was masked; budget {SMALL_GET_BUDGET_MS} ms")


DENSE_LOG_LINE = "xtoken " * 8000   # ~56 KB: an anchor inside a word, the slowest to mask
DENSE_LOG_LINES = 24


@pytest.mark.timeout(180)
def test_small_gets_answer_while_a_dense_log_is_masked(stack: Stack) -> None:
    """A pod can print text dense with detector anchors at will; its log masks at ~1 MB/s.
    Chunk by chunk on the event loop, every other call of the session waited behind each
    chunk; a stream whose chunks prove slow is masked on the masking thread instead."""
    sb = stack.sandbox
    log = "\n".join([DENSE_LOG_LINE] * DENSE_LOG_LINES) + "\nthe end\n"
    with contextlib.closing(sb.conn()) as c:
        status, body = sb.call(c, "POST", "/api/v1/namespaces/default/pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "chatty", "annotations": {"sandbox.kgate.dev/log": log}},
            "spec": {"containers": [{"name": "app", "image": "example/app:1.0"}]}})
        assert status == 201, body[:300]
        status, _ = sb.call(c, "POST", "/api/v1/namespaces/default/configmaps",
                            _configmap("small", {"LOG_LEVEL": "info"}))
        assert status == 201
    got: list[tuple[int, bytes]] = []

    def read_log() -> None:
        with contextlib.closing(stack.proxy.conn(timeout=110)) as conn:
            got.append(stack.proxy.call(conn, "GET", "/api/v1/namespaces/default/pods/chatty/log"))

    during = _small_gets_while(stack, read_log)
    assert got and got[0][0] == 200 and got[0][1].endswith(b"the end\n"), got[:1]
    assert len(got[0][1]) > DENSE_LOG_LINES * 50_000, "the log came back short"
    assert len(during) >= 3, f"only {len(during)} small GETs completed while the log streamed"
    median = statistics.median(during)
    assert median < SMALL_GET_BUDGET_MS, (
        f"small GETs took {median:.0f} ms (median of {len(during)}, max {max(during):.0f} ms) "
        f"while an anchor-dense log was masked; budget {SMALL_GET_BUDGET_MS} ms")


# --- 200 concurrent connections ---------------------------------------------------------------

N_GETS, N_WATCHES, N_LOGS = 80, 60, 60  # 200 connections


async def _mixed(ep: Endpoint) -> list[str]:
    """Open 200 connections at once; return one line per call that did not go as expected."""
    hdrs = ep.headers()
    problems: list[str] = []
    ns = "/api/v1/namespaces/mixed"

    async def get(s: aiohttp.ClientSession, i: int) -> None:
        path = f"{ns}/configmaps/cm-{i % 20}" if i % 2 else f"{ns}/configmaps"
        async with s.get(ep.url + path, headers=hdrs) as r:
            body = await r.read()
            if r.status != 200 or not json.loads(body).get("kind", "").startswith("ConfigMap"):
                problems.append(f"GET {path}: {r.status} {body[:120]!r}")

    async def watch(s: aiohttp.ClientSession, i: int) -> None:
        async with s.get(ep.url + f"{ns}/configmaps?watch=1&timeoutSeconds=3",
                         headers=hdrs) as r:
            lines = (await r.read()).splitlines()
            added = [ln for ln in lines if json.loads(ln).get("type") == "ADDED"]
            if r.status != 200 or len(added) < 20:
                problems.append(f"watch {i}: {r.status}, {len(added)} ADDED events")

    async def logs(s: aiohttp.ClientSession, i: int) -> None:
        follow = i % 2 == 0
        url = ep.url + f"{ns}/pods/chatty/log" + ("?follow=true" if follow else "")
        async with s.get(url, headers=hdrs) as r:
            if r.status != 200:
                problems.append(f"log {i}: {r.status} {(await r.read())[:120]!r}")
                return
            if not follow:
                if b"ready" not in await r.read():
                    problems.append(f"log {i}: no 'ready' line")
                return
            beats = 0
            async with asyncio.timeout(30):
                while beats < 3:
                    line = await r.content.readline()
                    if not line:
                        problems.append(f"log -f {i}: ended after {beats} heartbeats")
                        return
                    beats += b"heartbeat" in line

    conn = aiohttp.TCPConnector(ssl=ep.ssl_context(), limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=conn,
                                     timeout=aiohttp.ClientTimeout(total=120)) as s:
        calls = [get(s, i) for i in range(N_GETS)] + [watch(s, i) for i in range(N_WATCHES)] + \
            [logs(s, i) for i in range(N_LOGS)]
        results = await asyncio.gather(*calls, return_exceptions=True)
    problems += [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    return problems


@pytest.mark.timeout(180)
def test_200_concurrent_connections_of_watches_logs_and_gets(stack: Stack) -> None:
    sb = stack.sandbox
    with contextlib.closing(sb.conn()) as c:
        _namespace(sb, c, "mixed")
        for i in range(20):
            assert sb.call(c, "POST", "/api/v1/namespaces/mixed/configmaps",
                           _configmap(f"cm-{i}", {"LOG_LEVEL": "info", "n": str(i)}))[0] == 201
        status, body = sb.call(c, "POST", "/api/v1/namespaces/mixed/pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "chatty", "annotations": {
                "sandbox.kgate.dev/log": "booting\nready\n",
                "sandbox.kgate.dev/log-every": "100ms"}},
            "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}})
        assert status == 201, body[:300]
    problems = asyncio.run(_mixed(stack.proxy))
    assert not problems, f"{len(problems)} of 200 calls failed: {problems[:5]}"
    with contextlib.closing(stack.proxy.conn()) as c:  # and the proxy still serves
        assert stack.proxy.call(c, "GET", "/api/v1/namespaces/mixed/configmaps/cm-1")[0] == 200


# --- a stalled partial request ----------------------------------------------------------------

HEAD_TIMEOUT = 1.0


def _dropped(sock: ssl.SSLSocket, start: float) -> float | None:
    """When the server closed ``sock`` (a 408 reply may come first), else None; non-blocking."""
    try:
        while sock.recv(4096):
            pass
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return None
    except OSError:
        pass
    return time.monotonic() - start


def _head_timeout(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """Set a short request-head timeout; the ``ProxyOptions`` it needs, if any."""
    if "head_timeout" in {f.name for f in dataclasses.fields(ProxyOptions)}:
        return {"head_timeout": HEAD_TIMEOUT}
    # The lean server reads its module's HEAD_TIMEOUT when it is constructed.
    monkeypatch.setattr("kgate.proxy.lean.server.HEAD_TIMEOUT", HEAD_TIMEOUT)
    return {}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stall", ["partial", "trickle"])
def test_a_stalled_partial_request_is_dropped_without_affecting_others(
        stall: str, tmp_path: Path, sandbox_kubeconfig: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    options = _head_timeout(monkeypatch)
    thread, proxy, _audit = start_proxy_thread(sandbox_kubeconfig, tmp_path / "home",
                                               **options)
    try:
        host, port = proxy.url.removeprefix("https://").rsplit(":", 1)
        ep = Endpoint(host, int(port), proxy.session.token, proxy.ca_pem)
        raw = socket.create_connection((host, int(port)), timeout=30)
        stalled = ep.ssl_context().wrap_socket(raw, server_hostname=host)
        with contextlib.closing(stalled), contextlib.closing(ep.conn()) as other:
            start = time.monotonic()
            stalled.sendall(f"GET /api/v1/namespaces HTTP/1.1\r\nHost: {host}\r\n".encode())
            stalled.setblocking(False)
            dropped_at: float | None = None
            served = 0
            while dropped_at is None and time.monotonic() - start < HEAD_TIMEOUT + 3:
                if stall == "trickle":  # one more header byte every 0.1 s: never a whole head
                    with contextlib.suppress(ssl.SSLWantWriteError, OSError):
                        stalled.send(b"X")
                dropped_at = _dropped(stalled, start)
                status, _ = ep.call(other, "GET", "/api/v1/namespaces/default")
                assert status == 200
                served += 1
                time.sleep(0.1)
            assert dropped_at is not None, (
                f"the stalled connection was still open {HEAD_TIMEOUT + 3:.0f} s later "
                f"(head timeout {HEAD_TIMEOUT} s)")
            assert served >= 3, "other clients were not served while the stalled one waited"
            assert ep.call(other, "GET", "/api/v1/namespaces/default")[0] == 200
    finally:
        thread.stop()
