"""``kgate proxy``: the loopback proxy in the foreground, for an agent elsewhere on this host.

aiohttp is imported inside the command, never at module import, so ``kgate --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from kgate.cli.app import app, console_err
from kgate.errors import ExitCode

if TYPE_CHECKING:
    from kgate.proxy.runner import RunningProxy
    from kgate.upstream_config import UpstreamSettings


class UpstreamAuthKind(StrEnum):
    """``--upstream-auth``: whose credential the proxy sends to the API server."""

    KUBECONFIG = "kubeconfig"
    OIDC = "oidc"


_GRANT_HELP = ("Grant id (g-…) to run under. This version records the id with the session but "
               "does not enforce grant scope yet.")


@app.command("proxy")
def proxy_command(
    grant: Annotated[str | None, typer.Option("--grant", help=_GRANT_HELP)] = None,
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
    upstream_auth: Annotated[UpstreamAuthKind, typer.Option(
        "--upstream-auth",
        help="Credential sent to the API server: your kubeconfig's, or your OIDC ID token from "
             "'kgate login' (for clusters that trust the issuer), refreshed before it "
             "expires.")] = UpstreamAuthKind.KUBECONFIG,
) -> None:
    """Run the kgate proxy in the foreground until Ctrl-C or SIGTERM.

    The agent's kubeconfig points at https://127.0.0.1:PORT with a per-run session token; your
    own credential stays in this process. Exits 0 on SIGTERM, 130 on Ctrl-C.
    """
    from kgate.upstream_config import load_upstream

    settings = load_upstream(kubeconfig, context)  # ConfigError → one line, exit 3
    code = asyncio.run(_serve(settings, grant, port, kubeconfig_out, upstream_auth.value))
    raise typer.Exit(int(code))


async def _serve(settings: UpstreamSettings, grant: str | None, port: int,
                 out: Path | None, upstream_auth: str = "kubeconfig") -> ExitCode:
    from kgate.config import kgate_home, private_dir
    from kgate.errors import UnavailableError
    from kgate.proxy.runner import ProxyOptions, start_proxy
    home = kgate_home()
    try:
        proxy = await start_proxy(ProxyOptions(upstream=settings, home=home, port=port,
                                               grant_id=grant, upstream_auth=upstream_auth))
    except OSError as err:
        raise UnavailableError(f"cannot listen on 127.0.0.1:{port}: {err.strerror}") from err
    run_dir: Path | None = None
    if out is None:
        run_dir = private_dir(home / "run" / proxy.session.id)
        out = run_dir / "kubeconfig"
    stopped = asyncio.Event()
    received: list[int] = []
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        received.append(signum)
        stopped.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        _write_atomically(proxy, out)
        console_err.print(
            f"[bold]kgate proxy[/bold] {proxy.url} → {escape(settings.server)} "
            f"(context {escape(settings.context)}, {upstream_auth} credential), "
            f"session {proxy.session.id}"
            + (f", grant {escape(grant)} (recorded, not enforced yet)" if grant else ""),
            soft_wrap=True)
        console_err.print(f"agent kubeconfig: [cyan]{escape(str(out))}[/cyan]", soft_wrap=True)
        console_err.print(f"  export KUBECONFIG={escape(str(out))}", soft_wrap=True)
        console_err.print("[dim]Ctrl-C or SIGTERM stops the proxy and removes the "
                          "kubeconfig.[/dim]")
        await stopped.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        out.unlink(missing_ok=True)
        if run_dir is not None:
            shutil.rmtree(run_dir, ignore_errors=True)
        await proxy.stop()
    console_err.print(f"kgate proxy stopped; session {proxy.session.id} ended")
    return ExitCode.INTERRUPTED if received and received[0] == signal.SIGINT else ExitCode.OK


def _write_atomically(proxy: RunningProxy, out: Path) -> None:
    """Write the kubeconfig under a temporary name, then rename: readers never see half."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    proxy.write_kubeconfig(tmp)
    os.replace(tmp, out)
    sys.stderr.flush()
