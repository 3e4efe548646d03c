"""``kgate proxy``: the loopback proxy in the foreground, for an agent elsewhere on this host.

The proxy (its I/O engine, the masking engine) is imported inside the command, never at module
import, so ``kgate --help`` stays fast.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from kgate.cli.app import app, console_err
from kgate.cli.serving import stop_signals
from kgate.errors import ExitCode
from kgate.grants.select import choose_grant

if TYPE_CHECKING:
    from kgate.policy import Policy
    from kgate.proxy.runner import RunningProxy
    from kgate.upstream_config import UpstreamSettings


class UpstreamAuthKind(StrEnum):
    """``--upstream-auth``: whose credential the proxy sends to the API server."""

    KUBECONFIG = "kubeconfig"
    OIDC = "oidc"


_GRANT_HELP = ("Grant id (g-…) to run under: the agent reaches only what it covers, until it "
               "ends. Default: the single active grant.")
_NO_GRANT_HELP = ("Run unscoped (everything your credential allows), for trying kgate out. "
                  "Policy and masking still apply.")


@app.command("proxy", epilog="Example: kgate request --namespace payments --ttl 30m && "
                             "kgate proxy --kubeconfig-out ./agent.kubeconfig")
def proxy_command(
    grant: Annotated[str | None, typer.Option("--grant", help=_GRANT_HELP)] = None,
    no_grant: Annotated[bool, typer.Option("--no-grant", help=_NO_GRANT_HELP)] = False,
    port: Annotated[int, typer.Option(
        "--port", min=0, max=65535, help="Loopback port to listen on (0: pick a free one).")] = 0,
    kubeconfig_out: Annotated[Path | None, typer.Option(
        "--kubeconfig-out",
        help="Where to write the agent's kubeconfig (default: a private file under "
             "$KGATE_HOME/run/). Written only once the proxy accepts connections; removed on "
             "exit.")] = None,
    context: Annotated[str | None, typer.Option(
        "--context", help="Context of your kubeconfig to forward to.")] = None,
    kubeconfig: Annotated[Path | None, typer.Option(
        "--kubeconfig", help="Your kubeconfig (default: $KUBECONFIG or ~/.kube/config).")] = None,
    policy: Annotated[Path | None, typer.Option(
        "--policy", help="Policy file (default: $KGATE_POLICY, $KGATE_HOME/policy.yaml, else "
                         "the built-in default). An invalid policy stops the proxy from "
                         "starting.")] = None,
    upstream_auth: Annotated[UpstreamAuthKind, typer.Option(
        "--upstream-auth",
        help="Credential sent to the API server: your kubeconfig's, or your OIDC ID token from "
             "'kgate login' (for clusters that trust the issuer), refreshed before it "
             "expires.")] = UpstreamAuthKind.KUBECONFIG,
) -> None:
    """Run the kgate proxy in the foreground until Ctrl-C or SIGTERM.

    The agent's kubeconfig points at https://127.0.0.1:PORT with a per-run session token; your
    own credential stays in this process. The agent reaches only what the grant covers; when the
    grant ends (expiry, 'kgate revoke') its open streams are cut and every call is refused.
    Exits 0 on SIGTERM, 130 on Ctrl-C.
    """
    from kgate.cli.policy import print_problems
    from kgate.policy import PolicyInvalid, load_policy
    from kgate.upstream_config import load_upstream

    try:
        loaded = load_policy(policy)
    except PolicyInvalid as err:  # every problem as file:line; nothing is started
        print_problems(err)
        raise typer.Exit(int(ExitCode.CONFIG)) from None
    settings = load_upstream(kubeconfig, context)  # ConfigError → one line, exit 3
    grant_id = choose_grant(grant, no_grant)
    from kgate.proxy.lean.runtime import serving
    code = serving(_serve(settings, grant_id, port, kubeconfig_out, loaded, upstream_auth.value))
    raise typer.Exit(int(code))


async def _serve(settings: UpstreamSettings, grant: str | None, port: int,
                 out: Path | None, policy: Policy, upstream_auth: str = "kubeconfig"
                 ) -> ExitCode:
    from kgate.config import kgate_home, private_dir
    from kgate.errors import UnavailableError
    from kgate.proxy.runner import ProxyOptions, start_proxy
    home = kgate_home()
    try:
        proxy = await start_proxy(ProxyOptions(upstream=settings, home=home, port=port,
                                               grant_id=grant, policy=policy,
                                               log_notify=_tell_user,
                                               upstream_auth=upstream_auth))
    except OSError as err:
        raise UnavailableError(f"cannot listen on 127.0.0.1:{port}: {err.strerror}") from err
    run_dir: Path | None = None
    if out is None:
        run_dir = private_dir(home / "run" / proxy.session.id)
        out = run_dir / "kubeconfig"
    code = ExitCode.OK
    try:
        with stop_signals() as stop:
            _write_atomically(proxy, out)
            console_err.print(
                f"[bold]kgate proxy[/bold] {proxy.url} → {escape(settings.server)} "
                f"(context {escape(settings.context)}, {upstream_auth} credential), "
                f"session {proxy.session.id}"
                + (f", grant {escape(grant)}" if grant else ""), soft_wrap=True)
            console_err.print(f"policy: {escape(policy.source)}", soft_wrap=True)
            if grant is None:
                console_err.print("[bold red]WARNING: --no-grant: running UNSCOPED. The agent "
                                  "reaches everything your credential allows, for as long as "
                                  "this runs (policy and masking still apply).[/bold red]",
                                  soft_wrap=True)
            console_err.print(f"agent kubeconfig: [cyan]{escape(str(out))}[/cyan]",
                              soft_wrap=True)
            console_err.print(f"session log: {escape(str(home / 'sessions' / proxy.session.id))}"
                              ".jsonl", soft_wrap=True)
            console_err.print(f"  export KUBECONFIG={escape(str(out))}", soft_wrap=True)
            console_err.print("[dim]Ctrl-C or SIGTERM stops the proxy and removes the "
                              "kubeconfig.[/dim]")
            if proxy.grant_watch is not None:
                proxy.grant_watch.add_done_callback(lambda _t: _say_grant_over(proxy))
            code = await stop.wait()
    finally:
        out.unlink(missing_ok=True)
        if run_dir is not None:
            shutil.rmtree(run_dir, ignore_errors=True)
        await proxy.stop()
    console_err.print(f"kgate proxy stopped; session {proxy.session.id} ended "
                      f"(verify with: kgate sessions verify {proxy.session.id})")
    return code


def _say_grant_over(proxy: RunningProxy) -> None:
    from kgate.proxy.stages.scope import GrantScoped, ended_message

    scope = proxy.pipeline.scope
    if not isinstance(scope, GrantScoped) or proxy.grant_watch is None \
            or proxy.grant_watch.cancelled():
        return
    grant = scope.grant.at(time.time())
    console_err.print(f"[bold red]{escape(ended_message(grant, grant.state))}[/bold red]; "
                      "open streams were cut and every call is refused (Ctrl-C stops the "
                      "proxy)", soft_wrap=True)


def _tell_user(message: str) -> None:
    """The session log's own alarms (it cannot write; it can again): one line on stderr."""
    console_err.print(f"[bold red]{escape(message)}[/bold red]", soft_wrap=True)


def _write_atomically(proxy: RunningProxy, out: Path) -> None:
    """Write the kubeconfig under a temporary name, then rename: readers never see half."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    proxy.write_kubeconfig(tmp)
    os.replace(tmp, out)
    sys.stderr.flush()
