"""The lean engine's agent side at the byte level: what a hostile or demanding client can send.

A proxy on the lean engine in front of the sandbox, reached over real TLS with hand-written
requests kubectl would never send: request smuggling shapes, pipelining, stalled and oversized
heads, over-limit bodies, ``Expect: 100-continue``. The timeouts and the
body limit are set small for this file so the drops it checks happen quickly.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from kgate.proxy import pipeline
from kgate.proxy.channels import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, encode_frame
from kgate.proxy.lean import server as lean_server
from kgate.proxy.lean.connection import WRITE_HIGH
from kgate.sandbox.registry import default_registry
from kgate.sandbox.runner import ADMIN_TOKEN, ADMIN_USER, SandboxOptions, sandbox_in_thread
from tests.fixtures.kube import KubectlRunner
from tests.fixtures.proxy import (
    BROKER_USER,
    Proxied,
    permissive_policy_file,
    start_proxy_thread,
)
from tests.proxy.test_streams_through_proxy import POD

BODY_LIMIT = 64 * 1024
NS = "/api/v1/namespaces/default"


@pytest.fixture
def lean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxied]:
    """Sandbox + a lean-engine proxy with short timeouts and a 64 KiB body limit; two
    ConfigMaps, ``first`` and ``second``, to tell replies apart."""
    monkeypatch.setattr(lean_server, "HEAD_TIMEOUT", 0.5)
    monkeypatch.setattr(lean_server, "IDLE_TIMEOUT", 1.0)
    monkeypatch.setattr(pipeline, "MAX_REQUEST_BODY", BODY_LIMIT)
    broker_token = "broker-" + secrets.token_urlsafe(16)
    options = SandboxOptions(state_dir=tmp_path / "sandbox",
                             tokens={broker_token: BROKER_USER, ADMIN_TOKEN: ADMIN_USER})
    with sandbox_in_thread(options) as sandbox:
        configmaps = default_registry().preferred("", "configmaps")

        def seed() -> None:
            for name in ("first", "second"):
                sandbox.store.create(configmaps, "default", {
                    "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                    "data": {"which": name}})

        sandbox.run(seed)
        upstream = sandbox.write_kubeconfig(tmp_path / "user" / "config", token=broker_token)
        home = tmp_path / "kgate-home"
        thread, proxy, audit = start_proxy_thread(upstream, home)
        try:
            assert type(proxy.server).__name__ == "LeanServer"
            yield Proxied(sandbox=sandbox, sandbox_url=sandbox.url, broker_token=broker_token,
                          upstream_kubeconfig=upstream,
                          kubeconfig=proxy.write_kubeconfig(tmp_path / "agent" / "kubeconfig"),
                          thread=thread, proxy=proxy, audit=audit, home=home)
        finally:
            thread.stop()


def _connect(proxied: Proxied, rcvbuf: int | None = None) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cadata=proxied.proxy.ca_pem.decode())
    sock = socket.socket()
    sock.settimeout(20)
    if rcvbuf is not None:  # a small window: the kernel cannot absorb what the agent won't read
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", proxied.proxy.port))
    return ctx.wrap_socket(sock, server_hostname="127.0.0.1")


def _get(proxied: Proxied, path: str, extra: str = "") -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {proxied.proxy.session.token}\r\n{extra}\r\n").encode()


def _read_reply(f: BinaryIO) -> tuple[int, dict[str, str], bytes]:
    """One reply from a connection's byte stream (Content-Length or chunked body)."""
    status_line = f.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        key, _, value = line.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while size := int(f.readline().split(b";")[0], 16):
            body += f.read(size)
            f.readline()
        f.readline()
        return status, headers, body
    return status, headers, f.read(int(headers.get("content-length", "0")))


def _assert_closed(sock: ssl.SSLSocket) -> None:
    """The proxy has closed (or dropped) the connection: nothing more arrives."""
    sock.settimeout(10)
    try:
        data = sock.recv(1)
    except (ConnectionError, ssl.SSLError):
        return
    except TimeoutError:
        raise AssertionError("the proxy kept the connection open") from None
    assert data == b"", data


@pytest.mark.parametrize("framing", [
    "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
    "Content-Length: 5\r\nContent-Length: 5\r\n",
    "Content-Length: 5\r\nContent-Length: 44\r\n",
    "Transfer-Encoding: gzip, chunked\r\n",
    "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
])
def test_ambiguous_body_framing_is_refused_and_the_connection_closed(
        lean: Proxied, framing: str) -> None:
    # A smuggled second request hides in the body one reading would skip and another would not.
    smuggled = _get(lean, f"{NS}/secrets")
    body = b"0\r\n\r\n" + smuggled
    head = (f"POST {NS}/configmaps HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {lean.proxy.session.token}\r\n"
            f"Content-Type: application/json\r\n{framing}\r\n").encode()
    with _connect(lean) as sock:
        sock.sendall(head + body)
        f = sock.makefile("rb")
        status, headers, reply = _read_reply(f)
        assert status == 400, reply
        assert headers.get("connection") == "close"
        assert b"kgate:" in reply and lean.proxy.session.token.encode() not in reply
        _assert_closed(sock)
    # Nothing reached the API server: neither the POST nor the smuggled GET was served.
    assert lean.exchanges == []


def test_a_target_with_a_fragment_is_refused(lean: Proxied) -> None:
    # kgate would parse the resource as "secrets#x"; the API server would serve "secrets".
    with _connect(lean) as sock:
        sock.sendall(_get(lean, f"{NS}/secrets#x"))
        status, _headers, reply = _read_reply(sock.makefile("rb"))
        assert status == 400, reply
        _assert_closed(sock)
    assert lean.exchanges == []


def test_pipelined_requests_are_answered_in_order(lean: Proxied) -> None:
    names = ["first", "second", "first", "second", "second"]
    with _connect(lean) as sock:
        sock.sendall(b"".join(_get(lean, f"{NS}/configmaps/{n}") for n in names))
        f = sock.makefile("rb")
        seen = []
        for _ in names:
            status, _headers, body = _read_reply(f)
            assert status == 200, body
            seen.append("first" if b'"which":"first"' in body else "second")
        assert seen == names
        # The connection is still good for more.
        sock.sendall(_get(lean, "/version"))
        assert _read_reply(f)[0] == 200


def test_a_stalled_request_head_is_dropped_and_others_keep_working(lean: Proxied) -> None:
    with _connect(lean) as stalled, _connect(lean) as busy:
        stalled.sendall(b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: ")
        f = busy.makefile("rb")
        busy.sendall(_get(lean, f"{NS}/configmaps/first"))
        assert _read_reply(f)[0] == 200
        _assert_closed(stalled)  # dropped after the (0.5 s) head timeout
        busy.sendall(_get(lean, f"{NS}/configmaps/second"))
        status, _headers, body = _read_reply(f)
        assert status == 200 and b'"which":"second"' in body


def test_an_idle_keep_alive_connection_is_closed_but_a_long_exchange_is_not(
        lean: Proxied) -> None:
    with _connect(lean) as sock:
        f = sock.makefile("rb")
        # A watch that outlives the idle timeout (1 s) runs to its own end on the connection.
        sock.sendall(_get(lean, f"{NS}/configmaps?watch=1&timeoutSeconds=3"))
        status, headers, body = _read_reply(f)
        assert status == 200 and headers.get("transfer-encoding") == "chunked"
        assert body.count(b'"type":"ADDED"') == 2
        _assert_closed(sock)  # then, idle, it is closed


def test_an_oversized_header_block_is_refused(lean: Proxied) -> None:
    for extra in ("X-Big: " + "a" * 70_000 + "\r\n",
                  "".join(f"X-Many-{i}: v\r\n" for i in range(300))):
        with _connect(lean) as sock:
            sock.sendall(_get(lean, "/version", extra))
            status, headers, _body = _read_reply(sock.makefile("rb"))
            assert status == 431
            assert headers.get("connection") == "close"
            _assert_closed(sock)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_limit_gets_413(lean: Proxied, chunked: bool) -> None:
    body = b'{"kind":"ConfigMap","data":{"x":"' + b"y" * (BODY_LIMIT + 1024) + b'"}}'
    framing = ("Transfer-Encoding: chunked\r\n" if chunked
               else f"Content-Length: {len(body)}\r\n")
    payload = b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body) if chunked else body
    head = (f"POST {NS}/configmaps HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {lean.proxy.session.token}\r\n"
            f"Content-Type: application/json\r\n{framing}\r\n").encode()
    with _connect(lean) as sock:
        sock.sendall(head)
        try:
            sock.sendall(payload)
        except (ConnectionError, ssl.SSLError):
            pass  # refused on the declared length before the body was read: fine
        status, _headers, reply = _read_reply(sock.makefile("rb"))
        assert status == 413, reply
        assert b"RequestEntityTooLarge" in reply
    assert [(e.status, e.upstream_status) for e in lean.exchanges] == [(413, None)]


def test_expect_100_continue_is_honoured(lean: Proxied) -> None:
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"third"}}'
    head = (f"POST {NS}/configmaps HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {lean.proxy.session.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\n\r\n").encode()
    with _connect(lean) as sock:
        sock.sendall(head)
        f = sock.makefile("rb")
        assert f.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert f.readline() == b"\r\n"
        sock.sendall(body)
        status, _headers, reply = _read_reply(f)
        assert status == 201, reply


def test_an_upgrade_header_on_a_plain_request_ends_the_connection(lean: Proxied) -> None:
    with _connect(lean) as sock:
        sock.sendall(_get(lean, f"{NS}/configmaps/first",
                          "Connection: Upgrade\r\nUpgrade: websocket\r\n")
                     + _get(lean, f"{NS}/configmaps/second"))
        f = sock.makefile("rb")
        status, headers, body = _read_reply(f)
        assert status == 200 and b'"which":"first"' in body
        assert headers.get("connection") == "close"
        _assert_closed(sock)  # the bytes after it were never read as a request


def test_a_malformed_request_gets_400_and_its_bytes_stay_out_of_the_log(
        lean: Proxied, caplog: pytest.LogCaptureFixture) -> None:
    secret = "Malf0rmed-S3cret-" + secrets.token_hex(4)
    with caplog.at_level(logging.DEBUG):
        for garbage in (f"GET /version HTTP/1.1\r\nX-{secret} : v\r\n\r\n",
                        f"GET /{secret} HTTP/9.9\r\n\r\n",
                        f"GET /version HTTP/1.1\r\nX-Token: {secret}\x01\r\n\r\n"):
            with _connect(lean) as sock:
                sock.sendall(garbage.encode())
                status, headers, body = _read_reply(sock.makefile("rb"))
                assert status == 400 and headers.get("connection") == "close"
                assert secret.encode() not in body
                _assert_closed(sock)
    assert secret not in caplog.text


@pytest.mark.timeout(120)
def test_kgate_proxy_on_the_lean_engine_and_uvloop_serves_kubectl(
        lean: Proxied, kubectl: KubectlRunner, tmp_path: Path) -> None:
    # The process a user runs: `kgate proxy` picks uvloop when it is installed.
    pytest.importorskip("uvloop")
    out = tmp_path / "agent-cli" / "kubeconfig"
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
    env.update(KGATE_HOME=str(tmp_path / "home"), HOME=str(tmp_path / "home"),
               NO_COLOR="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kgate", "proxy", "--no-grant", "--kubeconfig",
         str(lean.upstream_kubeconfig), "--kubeconfig-out", str(out),
         "--policy", str(permissive_policy_file(tmp_path / "policy"))],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2])
    try:
        while not out.exists():  # bounded by the test timeout
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.05)
        got = kubectl("get", "configmap", "first", "-o", "jsonpath={.data.which}",
                      kubeconfig=out)
        assert got.stdout == "first"
        manifest = tmp_path / "shell.yaml"
        manifest.write_text(POD % "shell")
        kubectl("apply", "-f", str(manifest), kubeconfig=out)
        kubectl("wait", "--for=condition=Ready", "pod/shell", "--timeout=20s", kubeconfig=out)
        echoed = kubectl("exec", "-i", "shell", "--", "cat", kubeconfig=out, input="a\nb\n")
        assert echoed.stdout == "a\nb\n"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr


@pytest.mark.timeout(120)
def test_a_slow_agent_on_a_fast_watch_holds_kgate_back(lean: Proxied) -> None:
    # 100 ConfigMaps of 64 KiB: a watch starts with ~6 MiB of ADDED events at once.
    configmaps = default_registry().preferred("", "configmaps")
    filler = "x" * (64 * 1024)

    def seed() -> None:
        for i in range(100):
            lean.sandbox.store.create(configmaps, "default", {
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"big-{i}"},
                "data": {"filler": filler}})

    lean.sandbox.run(seed)
    server = lean.proxy.server
    assert isinstance(server, lean_server.LeanServer)

    async def read_backlog() -> tuple[int, int]:
        return server.write_backlog  # on the proxy's loop, where it changes

    def backlog() -> tuple[int, int]:
        return lean.thread.run(read_backlog)

    with _connect(lean, rcvbuf=16 * 1024) as sock:
        sock.sendall(_get(lean, f"{NS}/configmaps?watch=1&timeoutSeconds=20"))
        # The agent reads nothing: kgate's writer must end up waiting, its buffer bounded.
        while backlog()[1] == 0:  # bounded by the test timeout
            time.sleep(0.05)
        for _ in range(20):
            held, _waiting = backlog()
            # The high-water mark, plus what one write may add on top of it.
            assert held < 3 * WRITE_HIGH, f"kgate holds {held} bytes for an agent not reading"
            time.sleep(0.05)
        # Once the agent reads, every event arrives, in one piece.
        status, _headers, body = _read_reply(sock.makefile("rb"))
    assert status == 200
    assert body.count(b'"type":"ADDED"') == 102  # the 100 and first/second
    assert body.count(filler.encode()) == 100


def _ws_frame(f: BinaryIO) -> tuple[int, bytes]:
    """One unmasked frame from the server: (opcode, payload)."""
    b0, b1 = f.read(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(f.read(2), "big")
    elif n == 127:
        n = int.from_bytes(f.read(8), "big")
    return b0 & 0x0F, f.read(n)


@pytest.mark.timeout(90)
def test_exec_websocket_handshake_pings_and_channels(
        lean: Proxied, kubectl: KubectlRunner, tmp_path: Path) -> None:
    manifest = tmp_path / "shell.yaml"
    manifest.write_text(POD % "shell")
    kubectl("apply", "-f", str(manifest), kubeconfig=lean.kubeconfig)
    kubectl("wait", "--for=condition=Ready", "pod/shell", "--timeout=20s",
            kubeconfig=lean.kubeconfig)
    path = f"{NS}/pods/shell/exec?command=cat&stdin=true&stdout=true"
    upgrade = ("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n")
    with _connect(lean) as sock:  # no Sec-WebSocket-Key: not a handshake, nothing upgrades
        sock.sendall(_get(lean, path, upgrade))
        status, _headers, body = _read_reply(sock.makefile("rb"))
        assert status >= 400 and b"kgate:" in body
        _assert_closed(sock)
    with _connect(lean) as sock:
        sock.sendall(_get(lean, path, upgrade + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"))
        f = sock.makefile("rb")
        assert f.readline().startswith(b"HTTP/1.1 101 ")
        headers = {}
        while (line := f.readline()) != b"\r\n":
            key, _, value = line.decode().partition(":")
            headers[key.lower()] = value.strip()
        assert headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        assert headers["sec-websocket-protocol"] == "v5.channel.k8s.io"
        sock.sendall(encode_frame(OP_PING, b"still there?"))
        sock.sendall(encode_frame(OP_BINARY, b"\x00hello\n"))
        seen: list[tuple[int, bytes]] = []
        while (OP_PONG, b"still there?") not in seen or (OP_BINARY, b"\x01hello\n") not in seen:
            seen.append(_ws_frame(f))  # bounded by the socket timeout
        sock.sendall(encode_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
        while (frame := _ws_frame(f))[0] != OP_CLOSE:
            pass
        assert frame[1][:2] in ((1000).to_bytes(2, "big"), (1001).to_bytes(2, "big"))
        _assert_closed(sock)


def test_http_1_0_gets_a_whole_reply_and_the_connection_ends(lean: Proxied) -> None:
    """An HTTP/1.0 client (no chunked, no keep-alive by default) reads a complete reply."""
    with _connect(lean) as sock:
        sock.sendall(f"GET {NS}/configmaps/first HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                     f"Authorization: Bearer {lean.proxy.session.token}\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"200", head
    assert b"chunked" not in head.lower()
    assert b'"which":"first"' in body


def test_head_announces_no_body_and_the_connection_stays_usable(lean: Proxied) -> None:
    with _connect(lean) as sock:
        sock.sendall(_get(lean, f"{NS}/configmaps/first").replace(b"GET ", b"HEAD ", 1))
        f = sock.makefile("rb")
        status_line = f.readline()
        assert status_line.split()[1] in (b"200", b"405"), status_line
        while f.readline() not in (b"\r\n", b""):
            pass
        # No body bytes follow a HEAD reply: the next reply starts right here.
        sock.sendall(_get(lean, "/version"))
        assert _read_reply(f)[0] == 200


def test_the_heap_is_trimmed_once_large_replies_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a burst of large replies, one trim once the proxy has been quiet; none for small
    replies, none while large ones keep coming."""
    import asyncio

    from kgate.proxy.lean import runtime

    trims: list[int] = []
    monkeypatch.setattr(runtime, "TRIM_IDLE", 0.2)
    monkeypatch.setattr(runtime._trimmer, "malloc_trim", lambda pad: trims.append(pad) or 1)

    async def burst() -> None:
        runtime.large_reply(runtime.TRIM_AFTER - 1)
        await asyncio.sleep(0.3)
        assert trims == []  # a small reply never trims
        for _ in range(4):
            runtime.large_reply(runtime.TRIM_AFTER)
            await asyncio.sleep(0.1)
        assert trims == []  # still busy with large replies
        await asyncio.sleep(0.3)
        assert trims == [0]

    asyncio.run(burst())
