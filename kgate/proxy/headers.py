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


class Fields(tuple[tuple[str, str], ...]):
    """Header fields as received (immutable), with a by-name index of each name's first value
    built once: the pipeline asks a request for a dozen headers by name, and a scan that
    lowercases every name per question costs more than the index."""

    by_name: dict[str, str]

    def __new__(cls, fields: Iterable[tuple[str, str]]) -> Fields:
        self = super().__new__(cls, fields)
        index: dict[str, str] = {}
        for key, value in self:
            index.setdefault(key.lower(), value)
        self.by_name = index
        return self


def get(headers: Headers, name: str) -> str | None:
    """The first value of header ``name`` (any case), or None."""
    name = name.lower()
    if type(headers) is Fields:
        return headers.by_name.get(name)
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def is_upgrade(headers: Headers) -> bool:
    """Whether a request asks to switch protocols: ``Connection: upgrade`` and an ``Upgrade``."""
    return "upgrade" in _connection_tokens(headers) and bool(get(headers, "upgrade"))


_NO_TOKENS: frozenset[str] = frozenset()


def _connection_tokens(headers: Headers) -> frozenset[str] | set[str]:
    if type(headers) is Fields and "connection" not in headers.by_name:
        return _NO_TOKENS
    tokens: set[str] = set()
    for key, value in headers:
        if key.lower() == "connection":
            tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


_REQUEST_DROPPED = _REQUEST_DROP | HOP_BY_HOP
_RESPONSE_DROPPED = _RESPONSE_DROP | HOP_BY_HOP


def _strip(headers: Headers, dropped: frozenset[str]) -> list[tuple[str, str]]:
    tokens = _connection_tokens(headers)
    if tokens:
        dropped = dropped | tokens
    return [(k, v) for k, v in headers if k.lower() not in dropped]


def request_headers(headers: Headers, *, rewrite_accept: bool) -> list[tuple[str, str]]:
    """Headers to send upstream for a plain (non-upgrade) request: nothing of an upgrade
    handshake goes with it, whatever the agent sent."""
    return _forwarded(headers, rewrite_accept, plain=True)


def _forwarded(headers: Headers, rewrite_accept: bool, plain: bool = False
               ) -> list[tuple[str, str]]:
    """One pass: dropped and hop-by-hop names out, ``Accept`` (its first value) rewritten and
    moved last, and for a plain request the upgrade-only handshake headers out too."""
    tokens = _connection_tokens(headers)
    dropped = _REQUEST_DROPPED | tokens if tokens else _REQUEST_DROPPED
    out: list[tuple[str, str]] = []
    accept: str | None = None
    seen_accept = False
    for key, value in headers:
        lowered = key.lower()
        if lowered in dropped or (plain and lowered.startswith(_UPGRADE_ONLY)):
            continue
        if rewrite_accept and lowered == "accept":
            if not seen_accept:
                accept, seen_accept = value, True
            continue
        out.append((key, value))
    if rewrite_accept:
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
    return _strip(headers, _RESPONSE_DROPPED)


#: ``json_accept`` results by ``Accept`` value: a client sends the same few, and each is
#: split and rebuilt on every request otherwise. Bounded; long values are not kept.
_ACCEPTS: dict[str | None, str] = {}


def json_accept(accept: str | None) -> str:
    """Keep the JSON entries of ``accept`` (incl. ``as=Table``), drop protobuf, CBOR and YAML."""
    done = _ACCEPTS.get(accept)
    if done is None:
        done = _json_accept(accept)
        if accept is None or len(accept) <= 512:
            if len(_ACCEPTS) >= 256:
                _ACCEPTS.clear()
            _ACCEPTS[accept] = done
    return done


def _json_accept(accept: str | None) -> str:
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
