"""Critical #1 of issue 7: an ``Upgrade`` header must never turn masking off.

Raw HTTPS requests (kubectl cannot send these) to a proxy in front of the sandbox, with every
upgrade header variant a hostile agent might try, on Secret get/list/watch, pod logs and
ConfigMaps: each reply is the masked one, and no planted value leaks in any encoding. Only
exec, attach and port-forward may upgrade, and a reply that declines their upgrade is masked too.
"""

from __future__ import annotations

import base64

import pytest

from kgate.sandbox.registry import default_registry
from tests.attacks.leaks import assert_no_leak
from tests.attacks.rawhttp import raw_request
from tests.fixtures.proxy import Proxied

SECRET = "Upgr4de-Byp4ss-Pw-7Qx"          # fakes planted for this file
CM_PASSWORD = "Cm-Upgr4de-Pw-3Zr8"
LOG_SECRET = "L0g-Upgr4de-Pw-9Vt"
PLANTED = [SECRET, CM_PASSWORD, LOG_SECRET]
MASKED_B64 = base64.b64encode(b"kgate:masked:")[:16]  # a masked Secret data value

NS = "/api/v1/namespaces/default"
PATHS = [
    f"{NS}/secrets/db",
    f"{NS}/secrets",
    "/api/v1/secrets",
    f"{NS}/secrets?watch=1&timeoutSeconds=1",
    f"{NS}/configmaps/app",
    f"{NS}/configmaps",
    f"{NS}/pods/talker/log",
]
VARIANTS: list[list[tuple[str, str]]] = [
    [("Connection", "Upgrade"), ("Upgrade", "websocket")],
    [("Connection", "upgrade"), ("Upgrade", "WebSocket"), ("Sec-WebSocket-Version", "13"),
     ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")],
    [("Connection", "keep-alive, Upgrade"), ("Upgrade", "h2c"), ("HTTP2-Settings", "AAMAAABk")],
    [("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c")],
    [("Connection", "UPGRADE"), ("Upgrade", "SPDY/3.1")],
    [("Connection", "Upgrade"), ("Upgrade", "tcp")],
    [("Connection", "keep-alive"), ("Connection", "Upgrade"), ("Upgrade", "websocket"),
     ("Upgrade", "SPDY/3.1")],
    [("Upgrade", "websocket")],
    [("Connection", "Upgrade")],
]


@pytest.fixture
def planted(proxied: Proxied) -> Proxied:
    """A Secret, a ConfigMap with a password and a pod whose log prints a secret."""
    registry = default_registry()
    store = proxied.sandbox.store

    def seed() -> None:
        store.create(registry.preferred("", "secrets"), "default", {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"password": base64.b64encode(SECRET.encode()).decode()}})
        store.create(registry.preferred("", "configmaps"), "default", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"},
            "data": {"config.ini": f"[db]\npassword = {CM_PASSWORD}\n"}})
        store.create(registry.preferred("", "pods"), "default", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "talker", "annotations": {
                "sandbox.kgate.dev/log": f"token={LOG_SECRET}"}},
            "spec": {"containers": [{"name": "app", "image": "busybox"}]}})

    proxied.sandbox.run(seed)
    return proxied


@pytest.mark.timeout(240)
def test_no_upgrade_header_variant_unmasks_anything(planted: Proxied) -> None:
    for vi, variant in enumerate(VARIANTS):
        for path in PATHS:
            where = f"variant #{vi} on {path}"
            try:
                reply = raw_request(planted, "GET", path, variant)
            except TimeoutError:
                raise AssertionError(f"{where}: the proxy neither answered nor closed") from None
            assert_no_leak(reply, PLANTED, where)
            head = reply.split(b"\r\n", 1)[0]
            assert head.startswith(b"HTTP/1.1 200"), f"{where}: {head!r}"
            if "secrets" in path or "configmaps" in path or path.endswith("/log"):
                assert b"kgate:masked:" in reply or MASKED_B64 in reply, where


def test_the_masked_path_ignores_upgrade_headers_on_writes(planted: Proxied) -> None:
    # A body-carrying request with upgrade headers is read, checked and masked like any other.
    body = (b'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"w"},'
            b'"stringData":{"password":"' + SECRET.encode() + b'"}}')
    reply = raw_request(planted, "POST", f"{NS}/secrets",
                        [("Connection", "Upgrade"), ("Upgrade", "websocket"),
                         ("Content-Type", "application/json")], body)
    assert reply.startswith(b"HTTP/1.1 201"), reply.split(b"\r\n", 1)[0]
    assert_no_leak(reply, PLANTED, "the create reply")


def test_a_declined_exec_upgrade_is_masked(planted: Proxied) -> None:
    # Upstream answers a Status error (here 404: no such container name in the query… or pod):
    # kubectl falls back to SPDY on any non-101 reply, so the body must be masked or refused.
    reply = raw_request(planted, "GET",
                        f"{NS}/pods/absent-{SECRET}/exec?command=true&stdout=1",
                        [("Connection", "Upgrade"), ("Upgrade", "websocket"),
                         ("Sec-WebSocket-Version", "13"),
                         ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                         ("Sec-WebSocket-Protocol", "v5.channel.k8s.io")])
    head = reply.split(b"\r\n", 1)[0]
    assert not head.startswith(b"HTTP/1.1 101"), head
    assert b"application/json" in reply.split(b"\r\n\r\n", 1)[0].lower()
