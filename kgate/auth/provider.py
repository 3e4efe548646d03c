"""The OpenID provider over HTTP: discovery, JWKS, and errors turned into ``KgateError``s.

This and ``client.py`` are the only modules of ``kgate.auth`` that touch the network. Every
request goes over TLS (the issuer must be https; a ``ca_file`` narrows trust to that bundle),
with a timeout, and a size limit on the documents. An unreachable issuer is
``UnavailableError`` (exit 6); a provider that answers nonsense is ``AuthError`` (exit 4).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from kgate.auth.settings import OidcSettings
from kgate.errors import AuthError, ConfigError, UnavailableError

HTTP_TIMEOUT = 15.0
_MAX_DOCUMENT = 1 << 20
_REFETCH_INTERVAL = 5.0


@dataclass(frozen=True)
class Metadata:
    """The parts of the discovery document kgate uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    device_authorization_endpoint: str | None = None
    revocation_endpoint: str | None = None


def configure_session(session: requests.Session, settings: OidcSettings) -> None:
    """Trust ``ca_file`` if given, else the system CAs (and ``REQUESTS_CA_BUNDLE``).

    requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` override a session's ``verify``, so
    with an explicit CA file the environment is not consulted; proxies from the environment
    (which honour ``NO_PROXY``) are still applied.
    """
    if settings.ca_file is not None:
        session.proxies.update(requests.utils.get_environ_proxies(settings.issuer))
        session.trust_env = False
        session.verify = str(settings.ca_file)


def http_session(settings: OidcSettings) -> requests.Session:
    session = requests.Session()
    configure_session(session, settings)
    return session


def get_json(session: requests.Session, url: str, what: str) -> dict[str, Any]:
    """GET a small JSON document; network trouble → exit 6, nonsense → exit 4."""
    try:
        resp = session.get(url, timeout=HTTP_TIMEOUT, headers={"Accept": "application/json"})
    except requests.exceptions.SSLError as err:
        raise UnavailableError(f"TLS with the OIDC issuer failed while fetching {what}",
                               hint="pass --ca-file with the CA that signed the issuer's "
                                    "certificate") from err
    except requests.RequestException as err:
        raise UnavailableError(f"the OIDC issuer is unreachable ({type(err).__name__}) while "
                               f"fetching {what} from {url}",
                               hint="check --issuer and your network") from err
    if resp.status_code != 200:
        raise AuthError(f"the OIDC issuer answered {resp.status_code} for {what} ({url})",
                        hint="check --issuer: it must be the provider's exact issuer URL")
    if len(resp.content) > _MAX_DOCUMENT:
        raise AuthError(f"the OIDC issuer sent an oversized {what}")
    try:
        doc = resp.json()
    except ValueError as err:
        raise AuthError(f"the OIDC issuer's {what} is not JSON") from err
    if not isinstance(doc, dict):
        raise AuthError(f"the OIDC issuer's {what} is not a JSON object")
    return doc


def discover(session: requests.Session, issuer: str) -> Metadata:
    """Fetch ``/.well-known/openid-configuration``; its ``issuer`` must match exactly."""
    doc = get_json(session, issuer.rstrip("/") + "/.well-known/openid-configuration",
                   "the discovery document")
    if doc.get("issuer") != issuer:
        raise ConfigError(f"the discovery document names issuer {doc.get('issuer')!r}, "
                          f"not {issuer!r}", hint="pass --issuer exactly as the provider names "
                                                  "itself")
    try:
        meta = Metadata(issuer=issuer,
                        authorization_endpoint=str(doc["authorization_endpoint"]),
                        token_endpoint=str(doc["token_endpoint"]), jwks_uri=str(doc["jwks_uri"]),
                        device_authorization_endpoint=doc.get("device_authorization_endpoint"),
                        revocation_endpoint=doc.get("revocation_endpoint"))
    except KeyError as err:
        raise AuthError(f"the discovery document lacks {err.args[0]}") from err
    for url in (meta.authorization_endpoint, meta.token_endpoint, meta.jwks_uri):
        if not url.startswith("https://"):
            raise AuthError(f"the provider names a non-https endpoint: {url}")
    return meta


class Jwks:
    """The provider's signing keys, fetched again (rate-limited) when a token names a new kid."""

    def __init__(self, session: requests.Session, jwks_uri: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._session = session
        self._uri = jwks_uri
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: list[dict[str, Any]] | None = None
        self._fetched_at = float("-inf")

    def keys(self, kid: str | None) -> list[dict[str, Any]]:
        """Keys matching ``kid`` (all keys when the token names none), refetching if unknown."""
        with self._lock:
            if self._keys is None or (not self._match(kid)
                                      and self._clock() - self._fetched_at >= _REFETCH_INTERVAL):
                doc = get_json(self._session, self._uri, "the signing keys (JWKS)")
                raw = doc.get("keys")
                if not isinstance(raw, list):
                    raise AuthError("the provider's JWKS has no key list")
                self._keys = [k for k in raw if isinstance(k, dict)
                              and k.get("use", "sig") == "sig"]
                self._fetched_at = self._clock()
            return self._match(kid)

    def _match(self, kid: str | None) -> list[dict[str, Any]]:
        return [k for k in self._keys or [] if kid is None or k.get("kid") == kid]
