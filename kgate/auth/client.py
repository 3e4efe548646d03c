"""The OIDC client on authlib: authorization URL with PKCE, code exchange, refresh, device
authorization (RFC 8628), revocation, and ID-token validation on every token response.

``OidcClient`` knows one provider (``Metadata``) and one client id. Each token response is turned
into ``StoredTokens`` only after its ID token passed ``validate_id_token``; a provider's OAuth
error becomes an ``AuthError`` whose message names the error code (never a token).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from kgate.auth.idtoken import DEFAULT_LEEWAY, validate_id_token
from kgate.auth.provider import (
    HTTP_TIMEOUT,
    Jwks,
    Metadata,
    configure_session,
    discover,
    http_session,
)
from kgate.auth.settings import OidcSettings
from kgate.auth.store import StoredTokens
from kgate.errors import AuthError, ConfigError, UnavailableError

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
RELOGIN = "run kgate login"


@dataclass(frozen=True, repr=False)
class AuthorizationRequest:
    """What a browser login must remember between the redirect and the callback."""

    url: str
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str


@dataclass(frozen=True)
class DeviceGrant:
    """The device authorization response (RFC 8628 §3.2)."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int
    interval: int


class DevicePending(Exception):
    """The user has not approved the device code yet (``slow_down`` sets ``slower``)."""

    def __init__(self, slower: bool = False) -> None:
        super().__init__("authorization_pending")
        self.slower = slower


class OidcClient:
    """One provider, one client: every network step of login, refresh and logout."""

    def __init__(self, settings: OidcSettings, *, client_secret: str | None = None,
                 clock: Callable[[], float] = time.time, leeway: float = DEFAULT_LEEWAY,
                 metadata: Metadata | None = None) -> None:
        self.settings = settings
        self.client_secret = client_secret
        self._clock = clock
        self._leeway = leeway
        self._http = http_session(settings)
        self.metadata = metadata or discover(self._http, settings.issuer)
        self.jwks = Jwks(self._http, self.metadata.jwks_uri)

    def _oauth(self, redirect_uri: str | None = None) -> OAuth2Session:
        session = OAuth2Session(
            client_id=self.settings.client_id, client_secret=self.client_secret,
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
            revocation_endpoint_auth_method=("client_secret_basic" if self.client_secret
                                             else "none"),
            redirect_uri=redirect_uri, code_challenge_method="S256")
        configure_session(session, self.settings)
        return session

    # -- authorization code + PKCE ------------------------------------------------------------
    def authorization_request(self, redirect_uri: str, *, prompt: str | None = None,
                              max_age: int | None = None) -> AuthorizationRequest:
        verifier = secrets.token_urlsafe(64)
        nonce = secrets.token_urlsafe(24)
        extra: dict[str, Any] = {"nonce": nonce, "scope": " ".join(self.settings.scopes)}
        if prompt:
            extra["prompt"] = prompt
        if max_age is not None:
            extra["max_age"] = str(max_age)
        with self._oauth(redirect_uri) as oauth:
            url, state = oauth.create_authorization_url(
                self.metadata.authorization_endpoint, state=secrets.token_urlsafe(24),
                code_verifier=verifier, **extra)
        return AuthorizationRequest(url, state, nonce, verifier, redirect_uri)

    def check_authorization_request(self, request: AuthorizationRequest) -> None:
        """Ask the provider whether it accepts this request at all (unknown client id, bad
        redirect URI), so the user gets a clear error instead of an error page and a hang."""
        try:
            resp = self._http.get(request.url, allow_redirects=False, timeout=HTTP_TIMEOUT)
        except requests.RequestException as err:
            raise UnavailableError(f"the OIDC issuer is unreachable ({type(err).__name__})",
                                   hint="check --issuer and your network") from err
        if resp.status_code >= 400:
            raise AuthError(f"the provider refused the login request for client "
                            f"{self.settings.client_id!r} (HTTP {resp.status_code})",
                            hint="check --client-id (and that http://127.0.0.1/callback is a "
                                 "registered redirect URI)")

    def exchange_code(self, request: AuthorizationRequest, code: str,
                      max_age: int | None = None) -> StoredTokens:
        with self._oauth(request.redirect_uri) as oauth:
            body = self._token_call(lambda: oauth.fetch_token(
                self.metadata.token_endpoint, grant_type="authorization_code", code=code,
                code_verifier=request.code_verifier, redirect_uri=request.redirect_uri,
                timeout=HTTP_TIMEOUT))
        return self._accept(body, nonce=request.nonce, max_age=max_age)

    # -- refresh ------------------------------------------------------------------------------
    def refresh(self, tokens: StoredTokens, expect_sub: str | None) -> StoredTokens:
        """New tokens from the refresh token; a rotated refresh token replaces the old one."""
        if not tokens.refresh_token:
            raise AuthError("the login has expired and no refresh token was issued",
                            hint=RELOGIN)
        with self._oauth() as oauth:
            body = self._token_call(lambda: oauth.refresh_token(
                self.metadata.token_endpoint, refresh_token=tokens.refresh_token,
                timeout=HTTP_TIMEOUT))
        fresh = self._accept(body, nonce=None, expect_sub=expect_sub,
                             previous_refresh=tokens.refresh_token)
        return StoredTokens(fresh.id_token, fresh.access_token, fresh.refresh_token,
                            fresh.access_expires_at, client_secret=tokens.client_secret)

    # -- device flow --------------------------------------------------------------------------
    def start_device(self) -> DeviceGrant:
        endpoint = self.metadata.device_authorization_endpoint
        if not endpoint:
            raise ConfigError(f"the provider {self.settings.issuer} offers no device flow",
                              hint="run kgate login without --device (browser login)")
        data = {"client_id": self.settings.client_id, "scope": " ".join(self.settings.scopes)}
        auth = (self.settings.client_id, self.client_secret) if self.client_secret else None
        try:
            resp = self._http.post(endpoint, data=data, auth=auth, timeout=HTTP_TIMEOUT)
        except requests.RequestException as err:
            raise UnavailableError(f"the OIDC issuer is unreachable ({type(err).__name__})",
                                   hint="check --issuer and your network") from err
        try:
            doc = resp.json()
        except ValueError:
            doc = {}
        if resp.status_code != 200 or not isinstance(doc, dict) or "device_code" not in doc:
            error = doc.get("error", f"HTTP {resp.status_code}") if isinstance(doc, dict) else ""
            raise AuthError(f"the provider refused the device login: {error}",
                            hint="check --client-id" if error == "invalid_client" else None)
        return DeviceGrant(device_code=str(doc["device_code"]), user_code=str(doc["user_code"]),
                           verification_uri=str(doc["verification_uri"]),
                           verification_uri_complete=doc.get("verification_uri_complete"),
                           expires_in=int(doc.get("expires_in", 600)),
                           interval=max(1, int(doc.get("interval", 5))))

    def poll_device(self, grant: DeviceGrant) -> StoredTokens:
        """One poll: tokens, or ``DevicePending``; a denial or expiry is an ``AuthError``."""
        with self._oauth() as oauth:
            try:
                body = oauth.fetch_token(self.metadata.token_endpoint, grant_type=DEVICE_GRANT,
                                         device_code=grant.device_code,
                                         timeout=HTTP_TIMEOUT)
            except OAuthError as err:
                if err.error in ("authorization_pending", "slow_down"):
                    raise DevicePending(slower=err.error == "slow_down") from None
                raise self._oauth_error(err) from None
            except requests.RequestException as err:
                raise UnavailableError(f"the OIDC issuer is unreachable "
                                       f"({type(err).__name__})") from err
        return self._accept(dict(body), nonce=None)

    # -- logout -------------------------------------------------------------------------------
    def revoke(self, token: str, hint: str) -> bool:
        """Revoke at the provider if it offers revocation; ``False`` if it does not."""
        endpoint = self.metadata.revocation_endpoint
        if not endpoint:
            return False
        with self._oauth() as oauth:
            try:
                resp = oauth.revoke_token(endpoint, token=token, token_type_hint=hint,
                                          timeout=HTTP_TIMEOUT)
            except requests.RequestException as err:
                raise UnavailableError("the provider could not be reached to revoke the "
                                       f"tokens ({type(err).__name__})") from err
        return bool(resp.status_code == 200)

    # -- helpers ------------------------------------------------------------------------------
    def validate(self, id_token: str, *, nonce: str | None, max_age: float | None = None,
                 expect_sub: str | None = None) -> dict[str, Any]:
        return validate_id_token(id_token, self.jwks, issuer=self.settings.issuer,
                                 client_id=self.settings.client_id, now=self._clock(),
                                 leeway=self._leeway, nonce=nonce, max_age=max_age,
                                 expect_sub=expect_sub)

    def _token_call(self, call: Callable[[], Any]) -> dict[str, Any]:
        try:
            return dict(call())
        except OAuthError as err:
            raise self._oauth_error(err) from None
        except requests.RequestException as err:
            raise UnavailableError(f"the OIDC issuer is unreachable ({type(err).__name__})",
                                   hint="check --issuer and your network") from err
        except ValueError as err:
            raise AuthError("the provider's token endpoint did not answer JSON") from err

    def _oauth_error(self, err: OAuthError) -> AuthError:
        code = str(err.error or "error")
        if code == "invalid_grant":
            return AuthError("the provider no longer accepts this login (refresh token "
                             "revoked or expired)", hint=RELOGIN)
        if code == "invalid_client":
            return AuthError(f"the provider does not know client {self.settings.client_id!r}",
                             hint="check --client-id (and --client-secret)")
        if code == "expired_token":
            return AuthError("the device code expired before it was approved",
                             hint="run kgate login --device again")
        if code == "access_denied":
            return AuthError("the login was denied at the provider (access_denied)",
                             hint=RELOGIN)
        return AuthError(f"the provider refused the token request ({code})", hint=RELOGIN)

    def _accept(self, body: dict[str, Any], *, nonce: str | None, max_age: float | None = None,
                expect_sub: str | None = None,
                previous_refresh: str | None = None) -> StoredTokens:
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise AuthError("the provider returned no ID token (is 'openid' in the scopes?)",
                            hint=RELOGIN)
        self.validate(id_token, nonce=nonce, max_age=max_age, expect_sub=expect_sub)
        expires_in = body.get("expires_in")
        now = self._clock()
        return StoredTokens(
            id_token=id_token, access_token=str(body.get("access_token") or ""),
            refresh_token=body.get("refresh_token") or previous_refresh,
            access_expires_at=now + float(expires_in) if isinstance(expires_in, int | float)
            else now, client_secret=self.client_secret)
