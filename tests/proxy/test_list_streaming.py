"""Big Lists and Tables leave kgate batch by batch as they are masked (chunked), with the same
masking as a whole-body reply; a failure after the head cuts the connection."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from kgate.kubeconfig import write_kubeconfig
from kgate.policy import guardrails_only
from kgate.proxy.attributes import RequestAttributes, parse_request
from kgate.proxy.masking.bulk import BATCH
from kgate.proxy.runner import ProxyOptions, ProxyThread, RunningProxy
from kgate.proxy.stages.audit import MemoryAudit
from kgate.proxy.stages.masking import BodyStream, EngineMasker
from kgate.upstream_config import load_upstream
from tests.fixtures.kube import KubectlRunner
from tests.fixtures.proxy import Proxied, start_logged_proxy_thread, start_proxy_thread
from tests.fixtures.tlsserver import LoopbackTLSServer

PODS = "/api/v1/namespaces/default/pods"
SECRETS = "/api/v1/namespaces/default/secrets"
COPIED = "Zx9-streamed-secret-Q2"   # a fake Secret value, also copied into other objects
PAD = "p" * 20_000                  # ~20 KB per object: 200 objects make a 4 MB List
N = 200


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _pod(i: int) -> dict[str, Any]:
    labels = {"app": "big"}
    if i == 0:
        labels["copied"] = COPIED   # an early item holding a later Secret's value
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"p-{i:03d}", "namespace": "default", "uid": f"u-{i}",
                         "creationTimestamp": "2026-01-01T00:00:00Z", "labels": labels,
                         "annotations": {"pad": PAD}},
            # a literal under a secret name: every item needs the walker (a List the raw
            # check proves clean goes out in one piece, unparsed)
            "spec": {"containers": [{"name": "c", "image": "busybox", "env": [
                {"name": "DB_PASSWORD", "value": f"pw-{i:03d}-not-for-agents"}]}]},
            "status": {"phase": "Running"}}


def _secret(name: str, data: dict[str, str], note: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": f"u-{name}",
                            "creationTimestamp": "2026-01-01T00:00:00Z"}
    if note is not None:
        meta["annotations"] = {"note": note}
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": meta,
            "data": {k: _b64(v) for k, v in data.items()}}


@pytest.fixture
def big(proxied: Proxied) -> Proxied:
    """N big pods and N+2 big Secrets; the first Secret's annotation and the first pod's label
    hold the value of the last Secret."""
    objects = [("pods", _pod(i)) for i in range(N)]
    objects.append(("secrets", _secret("a-copy", {"k": "v"}, note=COPIED)))
    objects += [("secrets", _secret(f"m-{i:03d}", {"pad": PAD})) for i in range(N)]
    objects.append(("secrets", _secret("z-source", {"password": COPIED})))
    sandbox = proxied.sandbox
    for resource, obj in objects:
        sandbox.run(lambda r=resource, o=obj: sandbox.store.put_raw("", r, o))
    return proxied


def _upstream_body(proxied: Proxied, path: str, accept: str = "application/json") -> bytes:
    """What the API server answers the broker, unmasked."""
    ctx = ssl.create_default_context(cadata=proxied.sandbox.ca_pem.decode())
    conn = http.client.HTTPSConnection("127.0.0.1", int(proxied.sandbox_url.rsplit(":", 1)[1]),
                                       context=ctx, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {proxied.broker_token}",
                                       "Accept": accept})
    body = conn.getresponse().read()
    conn.close()
    return body


def _printed(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Items as ``kubectl -o json`` prints them: with the kind and version the List implies."""
    return [{"apiVersion": "v1", "kind": kind, **item} for item in items]


def _whole(proxied: Proxied, path: str, raw: bytes) -> tuple[bytes, int]:
    """The same reply masked whole by the session's masker (the unstreamed path)."""
    attrs = parse_request("GET", path, "")
    return proxied.proxy.pipeline.masker.mask_body(attrs, raw)


def _list_exchange(proxied: Proxied, path: str) -> Any:
    return [e for e in proxied.exchanges if e.raw_path == path and e.method == "GET"][-1]


def test_kubectl_secret_list_streams_the_whole_body_masking(big: Proxied,
                                                            kubectl: KubectlRunner) -> None:
    proc = kubectl("get", "secrets", "-o", "json", kubeconfig=big.kubeconfig)
    assert COPIED not in proc.stdout and _b64(COPIED) not in proc.stdout
    items = json.loads(proc.stdout)["items"]
    assert len(items) == N + 2
    by_name = {s["metadata"]["name"]: s for s in items}
    # Learned from the last Secret before the first one was masked:
    assert by_name["a-copy"]["metadata"]["annotations"]["note"].startswith("kgate:masked:")
    assert by_name["z-source"]["data"]["password"] != _b64(COPIED)
    raw = _upstream_body(big, SECRETS)
    assert len(raw) > 4 * 1024 * 1024 and COPIED.encode() in raw
    whole, masked = _whole(big, SECRETS, raw)
    assert items == _printed(orjson.loads(whole)["items"], "Secret")
    exchange = _list_exchange(big, SECRETS)
    assert (exchange.status, exchange.decision) == (200, "allow")
    assert exchange.masked == masked > N
    assert exchange.bytes_out == len(whole)


def test_kubectl_pod_list_and_table(big: Proxied, kubectl: KubectlRunner) -> None:
    kubectl("get", "secret", "z-source", "-o", "name", kubeconfig=big.kubeconfig)  # learns it
    proc = kubectl("get", "pods", "-o", "json", kubeconfig=big.kubeconfig)
    items = json.loads(proc.stdout)["items"]
    assert [p["metadata"]["name"] for p in items] == [f"p-{i:03d}" for i in range(N)]
    assert COPIED not in proc.stdout
    assert items[0]["metadata"]["labels"]["copied"].startswith("kgate:masked:")
    assert items[1]["metadata"]["annotations"]["pad"] == PAD   # the rest as it was
    whole, masked = _whole(big, PODS, _upstream_body(big, PODS))
    assert items == _printed(orjson.loads(whole)["items"], "Pod")
    assert _list_exchange(big, PODS).masked == masked >= 1

    table = kubectl("get", "pods", "--show-labels", kubeconfig=big.kubeconfig).stdout
    lines = table.splitlines()
    assert lines[0].split()[0] == "NAME" and len(lines) == N + 1
    assert "copied=kgate:masked:" in lines[1] and COPIED not in table
    assert all(line.split()[0] == f"p-{i:03d}" for i, line in enumerate(lines[1:]))


def test_official_python_client_lists(big: Proxied) -> None:
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(str(big.kubeconfig)))
    secrets = api.list_namespaced_secret("default").items
    assert len(secrets) == N + 2
    copy = next(s for s in secrets if s.metadata.name == "a-copy")
    assert copy.metadata.annotations["note"].startswith("kgate:masked:")
    pods = api.list_namespaced_pod("default").items
    assert len(pods) == N and pods[0].metadata.labels["copied"].startswith("kgate:masked:")


class _Held:
    """Hands out two batches, then waits for ``release`` before each further one."""

    def __init__(self, inner: BodyStream, owner: HeldMasker) -> None:
        self._inner, self._owner = inner, owner

    @property
    def masked(self) -> int:
        return self._inner.masked

    def __next__(self) -> bytes:
        if self._owner.handed >= 2:
            self._owner.waiting.set()
            assert self._owner.release.wait(30)
        batch = next(self._inner)
        self._owner.handed += 1
        return batch


class HeldMasker(EngineMasker):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.waiting = threading.Event()
        self.handed = 0

    def mask_stream(self, attrs: RequestAttributes, body: bytes) -> BodyStream | None:
        inner = super().mask_stream(attrs, body)
        return _Held(inner, self) if inner is not None else None


def _https(proxy: RunningProxy) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection(
        "127.0.0.1", proxy.port, timeout=30,
        context=ssl.create_default_context(cadata=proxy.ca_pem.decode()))


def test_the_agent_reads_the_first_items_while_the_last_are_being_masked(
        big: Proxied, tmp_path: Path) -> None:
    masker = HeldMasker()
    thread, proxy, _ = start_proxy_thread(big.upstream_kubeconfig, tmp_path / "held",
                                          masker=masker)
    conn = _https(proxy)
    try:
        conn.request("GET", PODS, headers={"Authorization": f"Bearer {proxy.session.token}"})
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Transfer-Encoding") == "chunked"
        assert resp.getheader("Content-Length") is None
        first = resp.read(4096)
        assert first.startswith(b'{"kind":"PodList"') and b'"name":"p-000"' in first
        assert masker.waiting.wait(30)
        assert not masker.release.is_set() and masker.handed == 2   # the rest is held
        masker.release.set()
        doc = orjson.loads(first + resp.read())
    finally:
        masker.release.set()
        conn.close()
        thread.stop()
    assert [p["metadata"]["name"] for p in doc["items"]] == [f"p-{i:03d}" for i in range(N)]


# -- failures, from an upstream that serves what the sandbox would not -----------------------

def _pods_body(bad_at: int | None, bad: bytes = b"", n: int = 100) -> bytes:
    items = [orjson.dumps(_pod(i)) for i in range(n)]
    if bad_at is not None:
        items[bad_at] = bad
    return b'{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[' + b",".join(items) \
        + b"]}"


#: Invalid UTF-8 in an element: the top-level split accepts it, the element's parse does not.
BAD_UTF8 = b'{"metadata":{"name":"bad-\xff\xfe"}}'
#: Nested deeper than any parser here goes: refused when the List is split, before the head.
TOO_DEEP = b'{"metadata":{"name":"deep"},"spec":' + b"[" * 5000 + b"]" * 5000 + b"}"
HUGE = "/api/v1/namespaces/huge/pods"
BODIES = {PODS: lambda: _pods_body(60, BAD_UTF8),
          "/api/v1/namespaces/first/pods": lambda: _pods_body(0, BAD_UTF8),
          "/api/v1/namespaces/deep/pods": lambda: _pods_body(60, TOO_DEEP),
          HUGE: lambda: _pods_body(None, n=800)}   # 16 MB: more than the sockets hold


class ListUpstream(LoopbackTLSServer):
    """Answers each path of ``BODIES`` with that body (200, JSON, a Content-Length)."""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        body = BODIES[head.split(" ", 2)[1].split("?", 1)[0]]()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        writer.close()


@pytest.fixture
def list_upstream(tmp_path: Path) -> Iterator[Path]:
    """``ListUpstream`` running; the kubeconfig that reaches it."""
    upstream = ListUpstream(tmp_path / "upstream")
    upstream.start()
    try:
        yield write_kubeconfig(tmp_path / "user" / "config",
                               server=f"https://127.0.0.1:{upstream.port}",
                               ca_pem=upstream.identity.ca_pem, token="broker-token")
    finally:
        upstream.stop()


def _proxy(kubeconfig: Path, home: Path, **kw: Any) -> tuple[ProxyThread, RunningProxy]:
    thread = ProxyThread(ProxyOptions(upstream=load_upstream(kubeconfig), home=home,
                                      policy=guardrails_only(), **kw))
    return thread, thread.start()


@pytest.fixture
def list_proxy(list_upstream: Path, tmp_path: Path) -> Iterator[tuple[RunningProxy, MemoryAudit]]:
    audit = MemoryAudit()
    thread, proxy = _proxy(list_upstream, tmp_path / "home", audit=audit)
    try:
        yield proxy, audit
    finally:
        thread.stop()


def test_a_failure_mid_list_cuts_the_connection(
        list_proxy: tuple[RunningProxy, MemoryAudit]) -> None:
    proxy, audit = list_proxy
    conn = _https(proxy)
    conn.request("GET", PODS, headers={"Authorization": f"Bearer {proxy.session.token}"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
    received = b""
    with pytest.raises((http.client.IncompleteRead, ConnectionError, ssl.SSLError)):
        while chunk := resp.read(65536):
            received += chunk
        raise AssertionError("the reply ended as if it were complete")
    conn.close()
    assert b'"name":"p-000"' in received          # the first batches went out...
    assert all(f'"p-{i:03d}"'.encode() not in received for i in range(60, 100))  # ...no more
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(received)
    exchange = [e for e in audit.exchanges if e.raw_path == PODS][-1]
    assert exchange.decision == "error" and exchange.message is not None
    assert exchange.message.startswith(f"reply cut after {exchange.bytes_out} bytes")
    assert "items[60] is not valid JSON" in exchange.message
    assert 0 < len(received) <= exchange.bytes_out   # what was handed to the socket


@pytest.mark.parametrize(("path", "why"), [
    ("/api/v1/namespaces/first/pods", "items[0] is not valid JSON"),
    ("/api/v1/namespaces/deep/pods", "nested too deeply"),
])
def test_a_failure_in_the_first_batch_is_a_502_status(
        list_proxy: tuple[RunningProxy, MemoryAudit], path: str, why: str) -> None:
    proxy, audit = list_proxy
    conn = _https(proxy)
    conn.request("GET", path, headers={"Authorization": f"Bearer {proxy.session.token}"})
    resp = conn.getresponse()
    status = json.loads(resp.read())
    conn.close()
    assert resp.status == 502 and status["kind"] == "Status"
    assert status["message"].startswith("kgate: could not mask the reply for pods")
    assert why in status["message"]
    exchange = [e for e in audit.exchanges if e.raw_path == path][-1]
    assert (exchange.status, exchange.decision) == (502, "error")


def test_the_session_log_records_a_streamed_list(big: Proxied, kubectl: KubectlRunner,
                                                 tmp_path: Path) -> None:
    home = tmp_path / "logged-home"
    thread, proxy = start_logged_proxy_thread(big.upstream_kubeconfig, home)
    try:
        kc = proxy.write_kubeconfig(tmp_path / "logged" / "kubeconfig")
        kubectl("get", "secrets", "-o", "json", kubeconfig=kc)
    finally:
        thread.stop()
    records = [orjson.loads(line)
               for line in (home / "sessions" / f"{proxy.session.id}.jsonl").read_bytes()
               .splitlines()]
    lists = [r for r in records if r.get("path") == SECRETS and r.get("method") == "GET"]
    assert lists, records[-3:]
    record = lists[-1]
    whole, masked = proxy.pipeline.masker.mask_body(parse_request("GET", SECRETS, ""),
                                                    _upstream_body(big, SECRETS))
    assert (record["status"], record["masked"], record["bytes_out"]) == (200, masked, len(whole))
    assert masked > N


def test_an_agent_that_stops_reading_holds_the_masking_back(list_upstream: Path,
                                                              tmp_path: Path) -> None:
    """kgate masks as far as the sockets take output and one batch more, not to the end."""
    masker = HeldMasker()
    masker.release.set()   # counting only
    thread, proxy = _proxy(list_upstream, tmp_path / "home", masker=masker)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    raw.connect(("127.0.0.1", proxy.port))
    ctx = ssl.create_default_context(cadata=proxy.ca_pem.decode())
    sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    try:
        sock.sendall(f"GET {HUGE} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                     f"{proxy.session.token}\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        handed = -1
        while masker.handed != handed:   # until the masking stops moving (the agent is stalled)
            handed = masker.handed
            time.sleep(1)
        assert 2 <= handed < len(BODIES[HUGE]()) // BATCH // 2
        data = bytearray()
        while not data.endswith(b"\r\n0\r\n\r\n"):   # reading again lets it finish
            data += sock.recv(1 << 20)
        assert masker.handed > 2 * handed
    finally:
        sock.close()
        thread.stop()


def test_an_agent_that_goes_away_stops_the_masking(list_upstream: Path, tmp_path: Path) -> None:
    """The exchange ends (and is logged) with what went out; the rest is never masked."""
    masker = HeldMasker()
    masker.release.set()   # counting only
    audit = MemoryAudit()
    thread, proxy = _proxy(list_upstream, tmp_path / "home", masker=masker, audit=audit)
    try:
        conn = _https(proxy)
        conn.request("GET", HUGE, headers={"Authorization": f"Bearer {proxy.session.token}"})
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read(4096)
        conn.sock.close()   # mid-List
        conn.close()
        deadline = time.monotonic() + 60
        while not [e for e in audit.exchanges if e.raw_path == HUGE]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        thread.stop()
    exchange = [e for e in audit.exchanges if e.raw_path == HUGE][-1]
    assert masker.handed < len(BODIES[HUGE]()) // BATCH // 2
    assert 0 < exchange.bytes_out < len(BODIES[HUGE]()) // 2
