"""The two ways to log in, and committing a login so nothing is ever half-written.

``browser_login``: authorization code + PKCE (S256) with a loopback redirect (RFC 8252); the
URL is opened in a browser or only shown (``--no-browser``), and the callback's ``state`` and
``iss`` are checked before the code is exchanged. ``device_login``: RFC 8628, polling at the
provider's interval (slower on ``slow_down``) until approved, denied or expired.
Both return validated ``StoredTokens``; ``commit_login`` then writes the token store and
config.toml, undoing the first if the second fails. The user-facing output goes through the
``show_*`` callbacks so the CLI decides how it looks and tests can read it.
"""

from __future__ import annotations

import os
import sys
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path

from kgate.auth.client import DeviceGrant, DevicePending, OidcClient
from kgate.auth.loopback import CallbackServer
from kgate.auth.settings import OidcSettings, save_oidc_settings
from kgate.auth.store import StoredTokens, TokenStore
from kgate.errors import AuthError, KgateError

LOGIN_TIMEOUT = 300.0


def browser_login(client: OidcClient, *, show_url: Callable[[str, bool], None],
                  open_browser: bool = True, port: int = 0, timeout: float = LOGIN_TIMEOUT,
                  prompt: str | None = None, max_age: int | None = None) -> StoredTokens:
    """Run the authorization-code flow; ``show_url(url, opened)`` tells the user where to go."""
    with CallbackServer(port) as server:
        request = client.authorization_request(server.redirect_uri, prompt=prompt,
                                               max_age=max_age)
        client.check_authorization_request(request)
        server.start(request.state)
        opened = False
        if open_browser and _has_graphical_browser():
            try:
                opened = webbrowser.open(request.url)
            except webbrowser.Error:
                opened = False
        show_url(request.url, opened)
        callback = server.wait(timeout)
    if callback.error:
        if callback.error == "access_denied":
            raise AuthError("the login was cancelled at the provider (access_denied)",
                            hint="run kgate login again and allow the sign-in")
        raise AuthError(f"the provider refused the login: {callback.error}",
                        hint="check --client-id and --scope")
    if callback.issuer is not None and callback.issuer != client.settings.issuer:
        raise AuthError("the login callback names another issuer (mix-up attack?)",
                        hint="run kgate login again")
    if not callback.code:
        raise AuthError("the login callback carried no authorization code",
                        hint="run kgate login again")
    return client.exchange_code(request, callback.code, max_age=max_age)


def _has_graphical_browser() -> bool:
    """On Linux without a display, ``webbrowser`` would start a text browser (lynx, w3m) in
    this terminal: print the URL instead."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def device_login(client: OidcClient, *, show_grant: Callable[[DeviceGrant, float], None],
                 tick: Callable[[float], None] = lambda remaining: None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> StoredTokens:
    """Run the device flow; ``show_grant(grant, deadline)`` shows the code, ``tick`` the time."""
    grant = client.start_device()
    deadline = clock() + grant.expires_in
    show_grant(grant, deadline)
    interval = float(grant.interval)
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            raise AuthError("the device code expired before it was approved",
                            hint="run kgate login --device again")
        tick(remaining)
        sleep(min(interval, max(0.0, remaining)))
        try:
            return client.poll_device(grant)
        except DevicePending as pending:
            if pending.slower:
                interval += 5  # RFC 8628 §3.5


def commit_login(home: Path, settings: OidcSettings, store: TokenStore,
                 tokens: StoredTokens) -> None:
    """Store the tokens, then remember the settings; on failure leave the previous state."""
    previous = store.load(settings.account)
    store.save(settings.account, tokens)
    try:
        save_oidc_settings(home, settings)
    except KgateError:
        if previous is None:
            store.delete(settings.account)
        else:
            store.save(settings.account, previous)
        raise
