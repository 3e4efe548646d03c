"""ID-token validation (OpenID Connect Core 3.1.3.7): signature first, then the claims.

An ID token is never trusted unverified: ``validate_id_token`` checks the JWS signature with an
asymmetric algorithm against the provider's JWKS (fetched again once a token names an unknown
``kid``, i.e. the provider rotated its keys), then ``check_claims`` (pure) checks ``iss``,
``aud`` (and ``azp`` when several audiences), ``exp``, ``iat``, ``nonce`` and, for step-up,
``auth_time`` against ``max_age``. A clock difference beyond the leeway is named as such, since
the fix (sync the clock) differs from a forged token's. No message ever contains the token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from kgate.auth.provider import Jwks
from kgate.errors import AuthError

ALGORITHMS: tuple[str, ...] = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                               "ES256", "ES384", "ES512")
DEFAULT_LEEWAY = 60.0
_RELOGIN = "run kgate login"


class TokenInvalid(AuthError):
    """An ID token failed validation; the message says which check."""


def _num(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def check_claims(claims: Mapping[str, Any], *, issuer: str, client_id: str, now: float,
                 leeway: float = DEFAULT_LEEWAY, nonce: str | None = None,
                 max_age: float | None = None, expect_sub: str | None = None) -> None:
    """Raise ``TokenInvalid`` unless the (signature-verified) claims are acceptable now."""
    if claims.get("iss") != issuer:
        raise TokenInvalid("the ID token was issued by another issuer", hint=_RELOGIN)
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        raise TokenInvalid(f"the ID token is not meant for client {client_id!r} (wrong audience)",
                           hint="check --client-id")
    if len(audiences) > 1 and claims.get("azp") not in (None, client_id):
        raise TokenInvalid("the ID token was issued to another party (azp)")
    exp, iat = _num(claims, "exp"), _num(claims, "iat")
    if exp is None or iat is None:
        raise TokenInvalid("the ID token lacks exp or iat")
    if iat > now + leeway:
        raise TokenInvalid(f"the ID token was issued {iat - now:.0f}s in the future: this "
                           "machine's clock is behind the provider's beyond the allowed "
                           f"{leeway:.0f}s", hint="synchronise the clock (NTP), then retry")
    if now > exp + leeway:
        raise TokenInvalid("the ID token has expired"
                           + (" (or this machine's clock is ahead of the provider's)"
                              if exp - iat > 0 and now - iat > 3600 else ""),
                           hint="synchronise the clock (NTP) or run kgate login")
    if nonce is not None and claims.get("nonce") != nonce:
        raise TokenInvalid("the ID token's nonce does not match this login (replayed token?)",
                           hint=_RELOGIN)
    if expect_sub is not None and claims.get("sub") != expect_sub:
        raise TokenInvalid("the refreshed ID token names another user", hint=_RELOGIN)
    if max_age is not None:
        auth_time = _num(claims, "auth_time")
        if auth_time is None:
            raise TokenInvalid("the provider sent no auth_time, so the login's age is unknown")
        if now - auth_time > max_age + leeway:
            raise TokenInvalid(f"the provider did not re-authenticate (last login "
                               f"{now - auth_time:.0f}s ago, {max_age:.0f}s allowed)",
                               hint="sign in again at the provider")


def verify_signature(token: str, jwks: Jwks,
                     algorithms: tuple[str, ...] = ALGORITHMS) -> dict[str, Any]:
    """The claims of ``token`` if a key of the provider signed it; ``TokenInvalid`` otherwise."""
    try:
        compact = jws.extract_compact(token.encode("ascii"))
    except (JoseError, ValueError, UnicodeError) as err:
        raise TokenInvalid("the ID token is not a signed JWT", hint=_RELOGIN) from err
    header = compact.headers()
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or alg not in algorithms:
        raise TokenInvalid(f"the ID token's signing algorithm {alg!r} is not accepted",
                           hint=_RELOGIN)
    if kid is not None and not isinstance(kid, str):
        raise TokenInvalid("the ID token's kid is not a string", hint=_RELOGIN)
    candidates = jwks.keys(kid)
    if not candidates:
        raise TokenInvalid("no signing key of the provider matches the ID token", hint=_RELOGIN)
    try:
        keyset = KeySet.import_key_set({"keys": candidates})
    except (JoseError, ValueError) as err:
        raise TokenInvalid("the provider's signing keys cannot be read") from err
    for key in keyset:
        try:
            if jws.validate_compact(compact, key, algorithms=[alg]):
                break
        except (JoseError, ValueError):
            continue
    else:
        raise TokenInvalid("the ID token's signature is not valid (tampered or forged)",
                           hint=_RELOGIN)
    try:
        claims = json.loads(compact.payload)
    except ValueError as err:
        raise TokenInvalid("the ID token's payload is not JSON") from err
    if not isinstance(claims, dict):
        raise TokenInvalid("the ID token's payload is not a JSON object")
    return claims


def validate_id_token(token: str, jwks: Jwks, *, issuer: str, client_id: str, now: float,
                      leeway: float = DEFAULT_LEEWAY, nonce: str | None = None,
                      max_age: float | None = None,
                      expect_sub: str | None = None) -> dict[str, Any]:
    """Signature, then claims; returns the claims of a token that passed both."""
    claims = verify_signature(token, jwks)
    check_claims(claims, issuer=issuer, client_id=client_id, now=now, leeway=leeway,
                 nonce=nonce, max_age=max_age, expect_sub=expect_sub)
    return claims


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a token *already validated when stored*: for display and expiry only."""
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError) as err:
        raise TokenInvalid("the stored ID token is malformed", hint=_RELOGIN) from err
    if not isinstance(claims, dict):
        raise TokenInvalid("the stored ID token is malformed", hint=_RELOGIN)
    return claims
