"""OIDC ID-token authentication for the sandbox API server, as kube-apiserver's ``--oidc-*`` flags.

``OIDCVerifier`` is a ``TokenVerifier``: given a bearer token it returns the ``UserInfo`` of a
valid ID token from the configured issuer and client, or ``None`` (the server answers 401).
The steps are those of kube-apiserver's OIDC authenticator:

1. discovery (``<issuer>/.well-known/openid-configuration``, whose ``issuer`` must match exactly)
   and the JWKS it names, fetched over TLS trusting ``ca_pem`` (or the system CAs), cached, and
   fetched again once when a token names an unknown ``kid`` (the provider rotated its keys);
2. the signature, with an asymmetric algorithm only (never ``none`` or HMAC);
3. ``iss``, ``aud`` (must contain the client id), ``exp``/``nbf``/``iat`` with a small leeway;
4. the username claim (``sub`` by default; any claim but ``email`` is prefixed ``<issuer>#``
   unless a prefix is given, ``-`` meaning none; ``email`` needs ``email_verified`` not false)
   and the groups claim (plus ``system:authenticated``).

``user_from_claims`` (step 3–4) is pure; only ``_KeySource`` does I/O, in a worker thread, so
the verifier works from any event loop. Tokens never reach a log: rejections log the reason only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from kgate.errors import ConfigError
from kgate.sandbox.auth import UserInfo

log = logging.getLogger(__name__)

DEFAULT_SIGNING_ALGS: tuple[str, ...] = (
    "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512",
)
_AUTHENTICATED = "system:authenticated"
_MAX_DOCUMENT = 1 << 20  # discovery and JWKS documents are small; refuse anything huge
_KTY_FOR_ALG = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


class TokenRejected(Exception):
    """An ID token failed one check; ``str()`` says which (never contains the token)."""


def user_from_claims(claims: Mapping[str, Any], *, issuer: str, client_id: str, now: float,
                     leeway: float, username_claim: str = "sub",
                     username_prefix: str | None = None, groups_claim: str | None = "groups",
                     groups_prefix: str = "") -> UserInfo:
    """Check the claims of a signature-verified ID token and map them to a Kubernetes user."""
    if claims.get("iss") != issuer:
        raise TokenRejected("issuer does not match")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        raise TokenRejected("audience does not contain the client id")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise TokenRejected("exp is missing")
    if now > exp + leeway:
        raise TokenRejected("token expired")
    for name in ("nbf", "iat"):
        value = claims.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > now + leeway:
            raise TokenRejected(f"{name} is in the future")

    raw_name = claims.get(username_claim)
    if not isinstance(raw_name, str) or not raw_name:
        raise TokenRejected(f"claim {username_claim!r} is missing or not a string")
    if username_claim == "email" and claims.get("email_verified", True) is not True:
        raise TokenRejected("email is not verified")
    if username_prefix is None:
        prefix = "" if username_claim == "email" else f"{issuer}#"
    else:
        prefix = "" if username_prefix == "-" else username_prefix
    username = prefix + raw_name

    groups: list[str] = []
    if groups_claim:
        raw_groups = claims.get(groups_claim)
        if isinstance(raw_groups, str):
            raw_groups = [raw_groups]
        if raw_groups is not None:
            if not isinstance(raw_groups, list) or not all(isinstance(g, str)
                                                           for g in raw_groups):
                raise TokenRejected(f"claim {groups_claim!r} is not a list of strings")
            groups = [groups_prefix + g for g in raw_groups]
    if _AUTHENTICATED not in groups:
        groups.append(_AUTHENTICATED)
    return UserInfo(username=username, groups=tuple(groups))


@dataclass(frozen=True)
class _Keys:
    keys: KeySet
    fetched_at: float

    def find(self, kid: str | None, alg: str) -> list[Any]:
        """Keys that may have signed a token with this kid/alg (all of the right type if no kid)."""
        kty = _KTY_FOR_ALG.get(alg[:2])
        return [key for key in self.keys
                if (kid is None or key.kid == kid) and key.key_type == kty]


class _KeySource:
    """Discovery + JWKS over TLS (blocking; called in a worker thread), with a refetch limit."""

    def __init__(self, issuer: str, ca_pem: bytes | None, timeout: float,
                 refetch_interval: float, clock: Callable[[], float]) -> None:
        self._issuer = issuer
        # With cadata, exactly that CA is trusted; without, the system's.
        self._ssl = ssl.create_default_context(cadata=ca_pem.decode() if ca_pem else None)
        self._timeout = timeout
        self._refetch_interval = refetch_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last_refetch = float("-inf")
        self.current: _Keys | None = None

    def _get_json(self, url: str) -> dict[str, Any]:
        if urlsplit(url).scheme != "https":
            raise TokenRejected(f"refusing to fetch {url}: not https")
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self._ssl),
                                             urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=self._timeout) as resp:
            body = resp.read(_MAX_DOCUMENT + 1)
        if len(body) > _MAX_DOCUMENT:
            raise TokenRejected(f"{url} returned an oversized document")
        value = json.loads(body)
        if not isinstance(value, dict):
            raise TokenRejected(f"{url} did not return a JSON object")
        return value

    def load(self, *, stale: _Keys | None) -> _Keys:
        """Fetch the keys if none are cached, or again if ``stale`` is still the current set."""
        with self._lock:
            current = self.current
            if current is not None and current is not stale:
                return current  # someone else refreshed while we waited
            if current is not None:
                # An unknown kid: fetch again, but not more often than refetch_interval, so a
                # stream of tokens with made-up kids cannot hammer the provider.
                if self._clock() - self._last_refetch < self._refetch_interval:
                    return current
                self._last_refetch = self._clock()
            discovery_url = self._issuer.rstrip("/") + "/.well-known/openid-configuration"
            doc = self._get_json(discovery_url)
            if doc.get("issuer") != self._issuer:
                raise TokenRejected("discovery document names a different issuer")
            jwks_uri = doc.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise TokenRejected("discovery document has no jwks_uri")
            jwks = self._get_json(jwks_uri)
            usable = [k for k in jwks.get("keys", [])
                      if isinstance(k, dict) and k.get("use", "sig") == "sig"]
            self.current = _Keys(KeySet.import_key_set({"keys": usable}), self._clock())
            return self.current


class OIDCVerifier:
    """Verifies OIDC ID tokens from one issuer for one client (``TokenVerifier``)."""

    def __init__(self, issuer_url: str, client_id: str, *, ca_pem: bytes | None = None,
                 username_claim: str = "sub", username_prefix: str | None = None,
                 groups_claim: str | None = "groups", groups_prefix: str = "",
                 signing_algs: Collection[str] = DEFAULT_SIGNING_ALGS, leeway: float = 30.0,
                 http_timeout: float = 10.0, refetch_interval: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        if urlsplit(issuer_url).scheme != "https":
            raise ConfigError(f"OIDC issuer URL must use https: {issuer_url}",
                              hint="kube-apiserver refuses non-https issuers too")
        if not client_id:
            raise ConfigError("OIDC client id is empty")
        unsafe = [a for a in signing_algs if a[:2] not in _KTY_FOR_ALG]
        if unsafe:
            raise ConfigError(f"unsupported OIDC signing algorithms: {', '.join(unsafe)}",
                              hint=f"use asymmetric ones: {', '.join(DEFAULT_SIGNING_ALGS)}")
        self.issuer_url = issuer_url
        self.client_id = client_id
        self._username_claim = username_claim
        self._username_prefix = username_prefix
        self._groups_claim = groups_claim
        self._groups_prefix = groups_prefix
        self._algs = frozenset(signing_algs)
        self._leeway = leeway
        self._clock = clock
        self._source = _KeySource(issuer_url, ca_pem, http_timeout, refetch_interval, clock)

    def __repr__(self) -> str:
        return f"OIDCVerifier(issuer_url={self.issuer_url!r}, client_id={self.client_id!r})"

    async def verify(self, token: str) -> UserInfo | None:
        """The user for a valid ID token; ``None`` (logged, without the token) otherwise."""
        try:
            return await self._verify(token)
        except TokenRejected as exc:
            log.info("OIDC token rejected: %s", exc)
        except (OSError, ValueError, JoseError) as exc:
            # Network, TLS, JSON or key-format trouble: fail closed, name only the error type so
            # that nothing derived from the token lands in the log.
            log.warning("OIDC token not verified (%s: issuer %s unreachable or malformed data)",
                        type(exc).__name__, self.issuer_url)
        return None

    async def _verify(self, token: str) -> UserInfo:
        try:
            compact = jws.extract_compact(token.encode("ascii"))
        except (JoseError, ValueError, UnicodeError) as exc:
            raise TokenRejected("not a JWS compact token") from exc
        header = compact.headers()
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algs:
            raise TokenRejected(f"signing algorithm {alg!r} is not accepted")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise TokenRejected("kid is not a string")

        keys = self._source.current
        if keys is None or not keys.find(kid, alg):
            keys = await asyncio.to_thread(self._source.load, stale=keys)
        candidates = keys.find(kid, alg)
        if not candidates:
            raise TokenRejected("no key of the issuer matches the token's kid")
        if not any(self._signature_ok(compact, key, alg) for key in candidates):
            raise TokenRejected("bad signature")

        try:
            claims = json.loads(compact.payload)
        except ValueError as exc:
            raise TokenRejected("payload is not JSON") from exc
        if not isinstance(claims, dict):
            raise TokenRejected("payload is not a JSON object")
        return user_from_claims(
            claims, issuer=self.issuer_url, client_id=self.client_id, now=self._clock(),
            leeway=self._leeway, username_claim=self._username_claim,
            username_prefix=self._username_prefix, groups_claim=self._groups_claim,
            groups_prefix=self._groups_prefix)

    @staticmethod
    def _signature_ok(compact: Any, key: Any, alg: str) -> bool:
        try:
            return bool(jws.validate_compact(compact, key, algorithms=[alg]))
        except JoseError:
            return False
