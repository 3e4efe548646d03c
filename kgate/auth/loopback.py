"""The loopback redirect of a native app (RFC 8252 §7.3): ``http://127.0.0.1:PORT/callback``.

``CallbackServer`` binds 127.0.0.1 (an ephemeral port unless one is asked for), serves exactly the
one path, and hands back the first callback whose ``state`` matches; a request with another state
(a stray tab, a page trying a forged code) is answered 400 and ignored. The page the browser shows
says whether to go back to the terminal; it never echoes the code.
"""

from __future__ import annotations

import http.server
import queue
import threading
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from kgate.errors import AuthError, UnavailableError

CALLBACK_PATH = "/callback"
_DONE = b"<!DOCTYPE html><title>kgate</title><p>kgate login: done. You can close this tab.</p>"
_FAILED = b"<!DOCTYPE html><title>kgate</title><p>kgate login failed; see the terminal.</p>"


@dataclass(frozen=True, repr=False)
class Callback:
    """The query of the callback: a code, or an error the provider reported."""

    code: str | None
    error: str | None
    error_description: str | None
    issuer: str | None


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH:
            self.send_error(404)
            return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if query.get("state") != self.server.expected_state:
            self.send_error(400, "unknown state")
            return
        callback = Callback(query.get("code"), query.get("error"),
                            query.get("error_description"), query.get("iss"))
        body = _DONE if callback.code and not callback.error else _FAILED
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)
        self.server.results.put(callback)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # the query holds the authorization code: never log it


class _Server(http.server.HTTPServer):
    expected_state = ""
    results: queue.Queue[Callback]


class CallbackServer:
    """Listens for one authorization response on the loopback interface."""

    def __init__(self, port: int = 0) -> None:
        try:
            self._server = _Server(("127.0.0.1", port), _Handler)
        except OSError as err:
            raise UnavailableError(f"cannot listen for the login callback on 127.0.0.1:{port}: "
                                   f"{err.strerror}",
                                   hint="choose another --port, or 0 for any free port") from err
        self._server.results = queue.Queue()
        self._thread: threading.Thread | None = None

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{CALLBACK_PATH}"

    def start(self, state: str) -> None:
        self._server.expected_state = state
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="kgate-login-callback")
        self._thread.start()

    def wait(self, timeout: float) -> Callback:
        try:
            return self._server.results.get(timeout=timeout)
        except queue.Empty:
            raise AuthError(f"no login arrived within {timeout:.0f}s",
                            hint="run kgate login again and finish signing in in the "
                                 "browser") from None

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def __enter__(self) -> CallbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
