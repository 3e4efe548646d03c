"""Header rules for both directions (pure): what is hop-by-hop, what is never forwarded, and
how ``Accept`` is rewritten so that every resource reply arrives as JSON kgate can mask."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Headers = Sequence[tuple[str, str]]

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade",
})
# Never forwarded upstream: the agent's credential, and what the client library recomputes.
_REQUEST_DROP = frozenset({"authorization", "host", "content-length", "accept-encoding",
                           "cookie"})
_RESPONSE_DROP = frozenset({"content-length", "content-encoding", "set-cookie",
                            "www-authenticate"})
JSON = "application/json"
#: Handshake headers that only mean something on an upgrade request.
_UPGRADE_ONLY = ("sec-websocket-", "http2-settings")


def get(headers: Headers, name: str) -> str | None:
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def is_upgrade(headers: Headers) -> bool:
    """Whether a request asks to switch protocols: ``Connection: upgrade`` and an ``Upgrade``."""
    return "upgrade" in _connection_tokens(headers) and bool(get(headers, "upgrade"))


def _connection_tokens(headers: Headers) -> set[str]:
    tokens: set[str] = set()
    for key, value in headers:
        if key.lower() == "connection":
            tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def _strip(headers: Headers, drop: Iterable[str]) -> list[tuple[str, str]]:
    dropped = set(drop) | HOP_BY_HOP | _connection_tokens(headers)
    return [(k, v) for k, v in headers if k.lower() not in dropped]


def request_headers(headers: Headers, *, rewrite_accept: bool) -> list[tuple[str, str]]:
    """Headers to send upstream for a plain (non-upgrade) request: nothing of an upgrade
    handshake goes with it, whatever the agent sent."""
    return [(k, v) for k, v in _forwarded(headers, rewrite_accept)
            if not k.lower().startswith(_UPGRADE_ONLY)]


def _forwarded(headers: Headers, rewrite_accept: bool) -> list[tuple[str, str]]:
    out = _strip(headers, _REQUEST_DROP)
    if rewrite_accept:
        accept = get(out, "accept")
        out = [(k, v) for k, v in out if k.lower() != "accept"]
        out.append(("Accept", json_accept(accept)))
    return out


def upgrade_request_headers(headers: Headers) -> list[tuple[str, str]]:
    """Headers to send upstream for an upgrade: hop-by-hop dropped except the upgrade itself.

    ``Accept`` asks for JSON, like a plain request: if upstream declines the upgrade, its error
    body is a Status kgate must be able to mask before passing it on.
    """
    out = _forwarded(headers, rewrite_accept=True)
    upgrade = get(headers, "upgrade")
    if upgrade:
        out += [("Connection", "Upgrade"), ("Upgrade", upgrade)]
    return out


def response_headers(headers: Headers) -> list[tuple[str, str]]:
    """Upstream reply headers worth passing to the agent (length/encoding are recomputed)."""
    return _strip(headers, _RESPONSE_DROP)


def json_accept(accept: str | None) -> str:
    """Keep the JSON entries of ``accept`` (incl. ``as=Table``), drop protobuf, CBOR and YAML."""
    kept: list[str] = []
    for entry in (accept or "").split(","):
        entry = entry.strip()
        media = entry.split(";", 1)[0].strip().lower()
        if media == JSON and entry not in kept:
            kept.append(entry)
    if not any(e.split(";", 1)[0].strip().lower() == JSON and ";" not in e for e in kept):
        kept.append(JSON)
    return ", ".join(kept)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()
