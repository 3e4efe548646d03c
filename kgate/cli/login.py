"""``kgate login``, ``kgate logout``, ``kgate whoami``: the user's OIDC identity.

Thin: options become ``OidcSettings`` and calls into ``kgate.auth``; progress and prompts go to
stderr, ``whoami`` output to stdout. authlib and requests are imported inside the commands.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel

from kgate.cli.app import app, console_err
from kgate.errors import ConfigError

if TYPE_CHECKING:
    from kgate.auth.client import DeviceGrant
    from kgate.auth.identity import OidcIdentity

_EXITS = ("Exit codes: 0 logged in; 3 bad settings (issuer URL, CA file, no device flow at the "
          "provider); 4 refused (cancelled, wrong client id, invalid token, clock skew, "
          "timeout); 6 unreachable (issuer down, callback port busy).")


def _rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _show_url(url: str, opened: bool) -> None:
    if opened:
        console_err.print("Opened your browser to sign in. If it did not open, visit:")
    else:
        console_err.print("Open this URL in a browser to sign in:")
    # Printed raw on its own line (no wrapping, no markup): scripts and tests read it.
    console_err.out(url, highlight=False)
    console_err.print("[dim]Waiting for the provider to redirect back to kgate…[/dim]")


def _show_grant(grant: DeviceGrant, deadline: float) -> None:
    minutes = max(0, int(deadline - time.monotonic())) // 60
    body = (f"Code:  [bold]{escape(grant.user_code)}[/bold]\n"
            f"Visit: {escape(grant.verification_uri)}\n"
            + (f"or:    {escape(grant.verification_uri_complete)}\n"
               if grant.verification_uri_complete else "")
            + f"[dim]expires in {minutes} min[/dim]")
    console_err.print(Panel(body, title="kgate login --device", expand=False), soft_wrap=True)
    console_err.out(f"user code: {grant.user_code}", highlight=False)


class _Countdown:
    """A one-line countdown on a terminal; silent when stderr is not a terminal."""

    def __init__(self) -> None:
        self._live: Live | None = None

    def tick(self, remaining: float) -> None:
        if not console_err.is_terminal:
            return
        from rich.text import Text

        text = Text(f"waiting for approval… {int(remaining) // 60}:{int(remaining) % 60:02d} "
                    "left", style="dim")
        if self._live is None:
            self._live = Live(text, console=console_err, transient=True,
                              refresh_per_second=1)
            self._live.start()
        else:
            self._live.update(text)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()


def _describe(identity: OidcIdentity) -> str:
    who = identity.email or identity.subject
    return f"{who} (sub {identity.subject}) at {identity.issuer}"


@app.command("login", epilog=_EXITS)
def login_command(
    issuer: Annotated[str | None, typer.Option(
        "--issuer", help="OIDC issuer URL (https). Remembered in config.toml.")] = None,
    client_id: Annotated[str | None, typer.Option(
        "--client-id", help="OAuth client id registered for kgate. Remembered.")] = None,
    client_secret: Annotated[str | None, typer.Option(
        "--client-secret", envvar="KGATE_OIDC_CLIENT_SECRET",
        help="Client secret, if the provider insists on one (kept in the token store).")] = None,
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help="Scope to ask for (repeat; default: openid email profile groups "
                        "offline_access). Remembered.")] = None,
    device: Annotated[bool, typer.Option(
        "--device", help="Use the device flow (RFC 8628): sign in on another device.")] = False,
    no_browser: Annotated[bool, typer.Option(
        "--no-browser", help="Do not open a browser: print the URL and wait.")] = False,
    ca_file: Annotated[Path | None, typer.Option(
        "--ca-file", dir_okay=False,
        help="CA bundle that signed the issuer's TLS certificate. Remembered.")] = None,
    port: Annotated[int, typer.Option(
        "--port", min=0, max=65535,
        help="Loopback port for the redirect (0: any free port).")] = 0,
    max_age: Annotated[int | None, typer.Option(
        "--max-age", min=0, help="Step-up: make the provider ask for the password again "
                                 "(prompt=login) and require a sign-in at most this many "
                                 "seconds old.")] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, help="Seconds to wait for the browser sign-in.")] = 300.0,
) -> None:
    """Sign in at your OIDC provider (authorization code + PKCE, or --device).

    Tokens go to the OS keyring, or a 0600 file under $KGATE_HOME where no keyring is usable
    (KGATE_TOKEN_STORE=keyring|file forces one). Nothing is saved unless the login succeeds.
    """
    from kgate.auth.client import OidcClient
    from kgate.auth.flows import browser_login, commit_login, device_login
    from kgate.auth.identity import OidcIdentity
    from kgate.auth.idtoken import unverified_claims
    from kgate.auth.settings import DEFAULT_SCOPES, OidcSettings, load_oidc_settings
    from kgate.auth.store import open_store
    from kgate.config import kgate_home

    home = kgate_home()
    saved = load_oidc_settings(home)
    same_issuer = saved is not None and (issuer is None or issuer == saved.issuer)
    chosen_issuer = issuer or (saved.issuer if saved else None)
    chosen_client = client_id or (saved.client_id if saved and same_issuer else None)
    if not chosen_issuer or not chosen_client:
        raise ConfigError("no OIDC provider is configured",
                          hint="pass --issuer URL and --client-id ID (remembered afterwards)")
    scopes = tuple(scope) if scope else (saved.scopes if saved and same_issuer
                                         else DEFAULT_SCOPES)
    ca = ca_file.resolve() if ca_file else (saved.ca_file if saved and same_issuer else None)
    settings = OidcSettings(chosen_issuer, chosen_client, scopes, ca)
    store = open_store(home)
    if client_secret is None and saved == settings:
        previous = store.load(settings.account)
        client_secret = previous.client_secret if previous else None
    console_err.print(f"token store: {escape(store.describe())}", soft_wrap=True)

    client = OidcClient(settings, client_secret=client_secret)
    started = time.time()
    if device:
        countdown = _Countdown()
        try:
            tokens = device_login(client, show_grant=_show_grant, tick=countdown.tick)
        finally:
            countdown.stop()
    else:
        tokens = browser_login(client, show_url=_show_url, open_browser=not no_browser,
                               port=port, timeout=timeout,
                               prompt="login" if max_age is not None else None,
                               max_age=max_age)
    identity = OidcIdentity.from_claims(unverified_claims(tokens.id_token))  # validated
    if max_age is not None and (identity.auth_time is None or identity.auth_time < started - 5):
        from kgate.errors import AuthError

        raise AuthError("the provider did not ask for the password again (auth_time is older "
                        "than this sign-in)", hint="the provider must honour prompt=login")
    commit_login(home, settings, store, tokens)
    console_err.print(f"[green]logged in[/green] as {escape(_describe(identity))}",
                      soft_wrap=True)
    console_err.print(f"ID token valid until {_rfc3339(identity.expires_at)}; "
                      f"tokens in {escape(store.describe())}", soft_wrap=True)


@app.command("whoami")
def whoami_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show who you are logged in as (refreshing the ID token if it expired).

    Exit codes: 0 logged in; 4 not logged in, or the login was revoked or expired.
    """
    from kgate.auth.current import CurrentLogin
    from kgate.auth.identity import OidcIdentity
    from kgate.config import kgate_home

    login = CurrentLogin(kgate_home())
    _, claims = login.fresh()
    identity = OidcIdentity.from_claims(claims)
    doc = {"subject": identity.subject, "email": identity.email,
           "groups": list(identity.groups), "issuer": identity.issuer,
           "principal": identity.principal, "expires_at": _rfc3339(identity.expires_at),
           "auth_time": _rfc3339(identity.auth_time), "token_store": login.store.describe()}
    if as_json:
        typer.echo(json.dumps(doc))
        return
    for key, value in doc.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        typer.echo(f"{key.replace('_', ' ')}: {shown if shown not in (None, '') else '-'}")


@app.command("logout")
def logout_command() -> None:
    """Forget your tokens (revoking them at the provider if it offers revocation).

    The provider settings stay in config.toml, so a later 'kgate login' needs no options.
    """
    from kgate.auth.current import CurrentLogin
    from kgate.auth.settings import load_oidc_settings
    from kgate.config import kgate_home
    from kgate.errors import KgateError

    home = kgate_home()
    if load_oidc_settings(home) is None:
        console_err.print("not logged in (no OIDC provider configured)")
        return
    login = CurrentLogin(home)
    tokens = login.store.load(login.settings.account)
    if tokens is None:
        console_err.print(f"not logged in to {escape(login.settings.issuer)}")
        return
    revoked = "not revoked"
    try:
        client = login.client()
        done = [client.revoke(token, hint) for token, hint in
                ((tokens.refresh_token, "refresh_token"), (tokens.access_token, "access_token"))
                if token]
        revoked = "revoked at the provider" if done and all(done) else (
            "the provider offers no revocation" if not client.metadata.revocation_endpoint
            else "revocation refused by the provider")
    except KgateError as err:
        revoked = f"not revoked: {err.message}"
    login.store.delete(login.settings.account)
    console_err.print(f"logged out of {escape(login.settings.issuer)}: tokens removed from "
                      f"{escape(login.store.describe())}; {escape(revoked)}", soft_wrap=True)
