"""HTTP/1.1 on the agent's side, as bytes: the checks a request head must pass beyond what llhttp
already refuses, and the heads and chunk framing kgate writes back. Pure: no sockets.

llhttp (through httptools) is strict: it refuses a request with both ``Content-Length`` and
``Transfer-Encoding``, a repeated ``Content-Length``, bare LF line ends, obsolete line folding,
whitespace before a colon and control characters in values. What it lets through and kgate
still refuses is checked here, before the pipeline sees the request: a transfer coding other
than plain ``chunked`` (the body would reach the body checks still encoded), a head over
``MAX_HEAD`` bytes or ``MAX_HEADERS`` fields, a target with a fragment, and an upgrade request
llhttp and kgate would read differently (the bytes after the head must mean the same thing to
both).
"""

from __future__ import annotations

from http import HTTPStatus

from kgate.proxy import headers as hdr
from kgate.status import status_bytes

#: The largest request head accepted (request line and header fields), and the most fields.
MAX_HEAD = 64 * 1024
MAX_HEADERS = 200

_REASONS = {s.value: s.phrase for s in HTTPStatus}
#: Framing headers kgate computes itself for every reply it writes.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
LAST_CHUNK = b"0\r\n\r\n"


class BadRequest(Exception):
    """A request head kgate will not serve; the connection is answered ``code`` and closed.

    The message is kgate's own words, never a quote of the request's bytes.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_head(target: str, headers: hdr.Headers, parser_upgrade: bool) -> None:
    """Refuse what llhttp accepts but kgate must not serve (see the module docstring)."""
    if "#" in target:
        # Not part of a request target (RFC 9112 3.2): kgate would read the path with it,
        # the API server without it.
        raise BadRequest(400, "a request target must not carry a fragment")
    if type(headers) is hdr.Fields and "transfer-encoding" not in headers.by_name:
        codings: list[str] = []  # the usual request: no scan of every name
    else:
        codings = [v for k, v in headers if k.lower() == "transfer-encoding"]
    if codings and (len(codings) > 1 or codings[0].strip().lower() != "chunked"):
        raise BadRequest(400, "only the chunked transfer coding is accepted for request bodies")
    if hdr.is_upgrade(headers) and not parser_upgrade:
        raise BadRequest(400, "an upgrade request kgate cannot read unambiguously")
    if parser_upgrade and codings:
        # llhttp leaves what follows an upgrade head unparsed: a chunked body there is not read.
        raise BadRequest(400, "an upgrade request with a chunked body")


def error_reply(code: int, message: str) -> bytes:
    """A whole reply that ends the connection: a Kubernetes ``Status`` saying what was wrong."""
    body = status_bytes(code, f"kgate: {message}")
    return head(code, [("Content-Type", "application/json"),
                       ("Content-Length", str(len(body))), ("Connection", "close")]) + body


def head(status: int, headers: hdr.Headers) -> bytes:
    """A reply head with exactly ``headers``; a header with a line break in it is refused."""
    fields = "".join([f"{key}: {value}\r\n" for key, value in headers])
    # Exactly one CR and one LF per field, those kgate put there: counted in one pass each.
    if fields.count("\n") != len(headers) or fields.count("\r") != len(headers):
        raise ValueError("a reply header contains a line break")
    text = f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n{fields}\r\n"
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:  # a value the upstream client decoded as UTF-8: send it back so
        return text.encode("utf-8", "surrogateescape")


def without_framing(headers: hdr.Headers) -> list[tuple[str, str]]:
    """The pipeline's headers less those that say how the body is delimited."""
    return [(k, v) for k, v in headers if k.lower() not in _FRAMING]


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def has_body(method: str, status: int) -> bool:
    """Whether a reply to ``method`` with ``status`` carries a body at all (RFC 9112 6.3)."""
    return method != "HEAD" and status >= 200 and status not in (204, 304)
