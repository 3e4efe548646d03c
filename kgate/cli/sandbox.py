"""``kgate sandbox``: the in-memory Kubernetes API server in the foreground.

For trying kgate (and kubectl) without a cluster. aiohttp is imported inside the command, never at
module import, so ``kgate --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from kgate.cli.app import app, console_err
from kgate.cli.serving import stop_signals
from kgate.errors import ExitCode, UnavailableError
from kgate.sandbox.auth import TokenVerifier


@app.command("sandbox")
def sandbox_command(
    port: Annotated[int, typer.Option(
        "--port", min=0, max=65535, help="Loopback port to listen on (0: pick a free one).")] = 0,
    kubeconfig_out: Annotated[Path | None, typer.Option(
        "--kubeconfig-out",
        help="Where to write an admin kubeconfig for the sandbox (default: "
             "$KGATE_HOME/sandbox/kubeconfig, removed on exit; a path given here is kept). "
             "Written 0600 once the server accepts connections.")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", help="Bearer token the sandbox accepts as its admin (default: random).")
    ] = None,
    seed: Annotated[str | None, typer.Option(
        "--seed", help="Objects to start with: 'demo' (namespaces, workloads, leaky Secrets "
                       "and ConfigMaps). Default: an empty cluster.")] = None,
    oidc_issuer_url: Annotated[str | None, typer.Option(
        "--oidc-issuer-url", help="Also accept OIDC ID tokens from this https issuer, like "
                                  "kube-apiserver's flag of the same name.")] = None,
    oidc_client_id: Annotated[str | None, typer.Option(
        "--oidc-client-id", help="Audience ID tokens must carry (required with "
                                 "--oidc-issuer-url).")] = None,
    oidc_ca_file: Annotated[Path | None, typer.Option(
        "--oidc-ca-file", exists=True, dir_okay=False,
        help="CA bundle for the issuer's TLS (default: system trust).")] = None,
    oidc_username_claim: Annotated[str, typer.Option(
        "--oidc-username-claim", help="Claim that names the user; anything but 'email' is "
                                      "prefixed with '<issuer>#'.")] = "sub",
    oidc_groups_claim: Annotated[str, typer.Option(
        "--oidc-groups-claim", help="Claim that lists the user's groups.")] = "groups",
) -> None:
    """Run a sandbox Kubernetes API server on 127.0.0.1 until Ctrl-C or SIGTERM (exit 0)."""
    if seed not in (None, "demo"):
        raise typer.BadParameter("the only seed is 'demo'", param_hint="--seed")
    verifier = None
    if oidc_issuer_url or oidc_client_id:
        if not (oidc_issuer_url and oidc_client_id):
            raise typer.BadParameter("--oidc-issuer-url and --oidc-client-id go together")
        from kgate.sandbox.oidc import OIDCVerifier

        verifier = OIDCVerifier(oidc_issuer_url, oidc_client_id,
                                ca_pem=oidc_ca_file.read_bytes() if oidc_ca_file else None,
                                username_claim=oidc_username_claim,
                                groups_claim=oidc_groups_claim)
    code = asyncio.run(_serve(port, kubeconfig_out, token or secrets.token_urlsafe(24), seed,
                              verifier))
    raise typer.Exit(int(code))


async def _serve(port: int, out: Path | None, token: str, seed: str | None,
                 verifier: TokenVerifier | None) -> ExitCode:
    from kgate.config import kgate_home
    from kgate.sandbox.runner import ADMIN_USER, SandboxOptions, start_sandbox

    state = kgate_home() / "sandbox"
    keep = out is not None
    kubeconfig = out or state / "kubeconfig"
    try:
        runner, sandbox = await start_sandbox(SandboxOptions(
            state_dir=state, port=port, tokens={token: ADMIN_USER}, seed=seed, verifier=verifier))
    except OSError as err:
        raise UnavailableError(f"cannot listen on 127.0.0.1:{port}: {err.strerror}") from err
    try:
        with stop_signals() as stop:
            sandbox.write_kubeconfig(kubeconfig)
            console_err.print(f"[bold green]sandbox[/] listening on {escape(sandbox.url)}")
            console_err.print(f"kubeconfig: {escape(str(kubeconfig))}")
            console_err.print(f"[dim]try: KUBECONFIG={escape(str(kubeconfig))} kubectl get "
                              "pods -A    (Ctrl-C stops)[/]")
            await stop.wait()
    finally:
        await runner.cleanup()
        if not keep:
            kubeconfig.unlink(missing_ok=True)
    console_err.print("[dim]sandbox stopped[/]")
    return ExitCode.OK
