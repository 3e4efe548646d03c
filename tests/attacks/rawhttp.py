"""Raw HTTPS requests to a proxy, for what kubectl cannot send (odd headers, exact bytes)."""

from __future__ import annotations

import http.client
import socket
import ssl

from tests.fixtures.proxy import Proxied


def raw_request(proxied: Proxied, method: str, path: str, headers: list[tuple[str, str]],
                body: bytes = b"") -> bytes:
    """Send one request exactly as given on a fresh TLS connection; return the status line,
    the headers and the (de-chunked) body as bytes."""
    proxy = proxied.proxy
    ctx = ssl.create_default_context(cadata=proxy.ca_pem.decode())
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", proxy.port), timeout=20),
                         server_hostname="127.0.0.1") as sock:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1",
                 f"Authorization: Bearer {proxy.session.token}",
                 f"Content-Length: {len(body)}",
                 *(f"{k}: {v}" for k, v in headers)]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        head = f"HTTP/1.1 {response.status} {response.reason}\r\n".encode()
        head += "".join(f"{k}: {v}\r\n" for k, v in response.getheaders()).encode()
        return head + b"\r\n" + response.read()
