"""Class 9 of issue 7: malformed requests must not make kgate print what they carried.

An HTTP library reports a request it cannot parse with a traceback whose message quotes the
offending bytes, and asyncio reports a failed I/O callback the same way. A hostile agent (or a
confused one) can put the session token and a secret in those bytes; kgate's stderr is read by
humans and collected by terminals and CI logs. ``python -m kgate proxy`` runs as a subprocess so its
real stderr is checked: one line per failure, no payload, no "Traceback".
"""

from __future__ import annotations

import base64
import socket
import ssl
import time
from pathlib import Path

import pytest
import yaml

from kgate.sandbox.runner import SandboxOptions, sandbox_in_thread
from tests.attacks.leaks import assert_no_leak
from tests.masking.test_corpus_kubectl import _start_kgate, _stop_kgate

pytestmark = pytest.mark.timeout(120)

SECRET = "Tr4ceb4ck-Qu0ted-Pw-5Hn"   # a fake planted for this file


def _agent(kubeconfig: Path) -> tuple[str, int, str]:
    """Token, port and CA of the proxy, from the kubeconfig it wrote for the agent."""
    config = yaml.safe_load(kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
    return config["users"][0]["user"]["token"], int(server.rsplit(":", 1)[1]), ca.decode()


def _send(port: int, ca: str, payloads: list[bytes]) -> None:
    """Send ``payloads`` on one TLS connection, reading whatever comes back."""
    ctx = ssl.create_default_context(cadata=ca)
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                         server_hostname="127.0.0.1") as sock:
        for payload in payloads:
            try:
                sock.sendall(payload)
                time.sleep(0.2)
                sock.settimeout(2)
                sock.recv(65536)
            except (OSError, TimeoutError):
                break


def test_malformed_requests_leave_one_line_without_payload(tmp_path: Path) -> None:
    with sandbox_in_thread(SandboxOptions(state_dir=tmp_path / "sandbox")) as sandbox:
        upstream = sandbox.write_kubeconfig(tmp_path / "user" / "config")
        out, home, stderr_path = tmp_path / "agent.kubeconfig", tmp_path / "home", \
            tmp_path / "kgate.stderr"
        proc, err = _start_kgate(upstream, out, home, stderr_path)
        try:
            token, port, ca = _agent(out)
            t, s = token.encode(), SECRET.encode()
            valid = (b"GET /version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + t
                     + b"\r\n\r\n")
            attempts = [
                [valid, b"GET /api?" + t + b" HTTP/1.1 " + s + b"\r\nHost: x\r\n\r\n"],
                [valid, t + b" /api HTTP/1.1\r\nX-Pw: " + s + b"\r\n\r\n"],
                [b"GET /api HTTP/9.9\r\nAuthorization: Bearer " + t + b"\r\nX: " + s
                 + b"\r\n\r\n"],
                [b"GET /api HTTP/1.1\r\nAuthorization: Bearer " + t + b"\r\nX-Bad\x01: " + s
                 + b"\r\n\r\n"],
                [b"GET /api HTTP/1.1\r\nAuthorization Bearer " + t + s + b"\r\n\r\n"],
                [b"POST /api/v1/namespaces/default/secrets HTTP/1.1\r\nHost: x\r\n"
                 b"Authorization: Bearer " + t + b"\r\nContent-Length: 1" + s + b"\r\n\r\n"],
                [b"POST /api/v1/namespaces/default/secrets HTTP/1.1\r\nHost: x\r\n"
                 b"Authorization: Bearer " + t + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"zz" + s + b"\r\n" + s + b"\r\n"],
                [valid, b"\x16\x03\x01" + t + b"\x00" + s + b"\r\n\r\n"],
                [valid, b"GET /" + b"a" * 70000 + t + s + b" HTTP/1.1\r\n\r\n"],
            ]
            for attempt in attempts:
                _send(port, ca, attempt)
            # Plain-text garbage on the TLS port (no handshake at all).
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                raw.sendall(b"GET /?" + t + b" HTTP/1.1\r\nX: " + s + b"\r\n\r\n")
                raw.settimeout(2)
                try:
                    raw.recv(100)
                except OSError:
                    pass
            # The proxy still serves a good request afterwards.
            _send(port, ca, [valid])
        finally:
            code = _stop_kgate(proc)
            err.close()
    stderr = stderr_path.read_bytes()
    assert code in (0, 130, -15), code
    assert_no_leak(stderr, [token, SECRET], "kgate's stderr")
    assert b"Traceback" not in stderr
    # One line per refusal, in kgate's own words: "refused a malformed request (why)".
    assert b"kgate: refused a malformed request" in stderr, \
        "the malformed requests left no trace at all (is the test sending them?)"
    for line in stderr.decode(errors="replace").splitlines():
        assert len(line) < 300, "a log line long enough to carry a payload"




def test_library_error_reports_lose_their_payload(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    # Loading the proxy's server is what quiets asyncio (the proxy's only library that reports
    # with tracebacks; the server reports malformed requests itself, checked above).
    import kgate.proxy.lean.server  # noqa: F401

    try:
        raise ValueError(f"bad bytes b'{SECRET}'")
    except ValueError:
        logging.getLogger("asyncio").exception("Exception in callback %r", SECRET)
    assert len(caplog.records) == 1
    for record in caplog.records:
        assert SECRET not in record.getMessage() and record.exc_info is None
        assert record.getMessage().endswith("(ValueError)")
    assert SECRET not in caplog.text and "Traceback" not in caplog.text
