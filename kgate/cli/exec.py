"""``kgate exec -- CMD``: run an agent whose only way to the cluster is a kgate proxy.

Thin: options → ``kgate.agent.supervise.run_session`` → a summary on stderr and CMD's exit code.
Nothing heavy is imported here (no proxy engine, no kubernetes client): the proxy runs in a child
process, so the agent starts as soon as this process has bound the socket and written the
kubeconfig.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kgate.cli.app import app

_EXAMPLES = """
Examples:

  kgate exec -- kubectl get pods

  kgate exec --grant g-7f2c -- devin-agent --task fix-payments

  kgate exec --policy ./oncall.yaml --kill-on-expiry -- ./agent.sh
"""


@app.command(
    "exec",
    context_settings={"allow_interspersed_args": False},
    help="Run CMD with a kubeconfig that reaches the cluster only through a kgate proxy.\n\n"
         "CMD gets KUBECONFIG (a 0600 file in a private temp dir, removed afterwards) and "
         "KGATE_SESSION; kgate removes your own cluster and cloud credentials from its "
         "environment and, on Linux, confines it with Landlock so it cannot read them from "
         "disk either (see docs/confinement.md). kgate exits with CMD's exit code and prints "
         "a session summary to stderr.\n" + _EXAMPLES,
)
def exec_command(
    command: Annotated[list[str], typer.Argument(
        help="The agent's command and its arguments (after --).", show_default=False)],
    grant: Annotated[str | None, typer.Option(
        "--grant", help="Grant id (g-…) to run under (default: the single active grant).")
    ] = None,
    no_grant: Annotated[bool, typer.Option(
        "--no-grant", help="Run unscoped (everything your credential allows), for trying kgate "
                           "out; policy and masking still apply.")] = False,
    policy: Annotated[Path | None, typer.Option(
        "--policy", help="Policy file (default: $KGATE_POLICY, $KGATE_HOME/policy.yaml, "
                         "then the built-in policy).")] = None,
    kill_on_expiry: Annotated[bool, typer.Option(
        "--kill-on-expiry", help="Stop CMD when the grant ends.")] = False,
    context: Annotated[str | None, typer.Option(
        "--context", help="Context of your kubeconfig to forward to.")] = None,
    kubeconfig: Annotated[Path | None, typer.Option(
        "--kubeconfig", help="Your kubeconfig (default: $KUBECONFIG or ~/.kube/config).")
    ] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No summary on stderr.")] = False,
    no_confine: Annotated[bool, typer.Option(
        "--no-confine", help="Do not confine CMD with Landlock: it can then read your "
                             "kubeconfig, cloud credentials and kgate's state (the session "
                             "summary says so).")] = False,
    net: Annotated[str | None, typer.Option(
        "--net", metavar="proxy-only|ports:443,…",
        help="Limit the TCP ports CMD may connect to: only the kgate proxy (proxy-only), or "
             "it and the listed ports (default: no limit).")] = None,
    upstream_auth: Annotated[str, typer.Option(
        "--upstream-auth", metavar="kubeconfig|oidc",
        help="Credential the proxy sends upstream: your kubeconfig's, or your OIDC ID token "
             "from 'kgate login'.")] = "kubeconfig",
) -> None:
    from kgate.agent.command import ExecOptions, execute

    if upstream_auth not in ("kubeconfig", "oidc"):
        raise typer.BadParameter("kubeconfig or oidc", param_hint="--upstream-auth")
    code = execute(ExecOptions(command=command, grant=grant, policy=policy,
                               kill_on_expiry=kill_on_expiry, context=context,
                               kubeconfig=kubeconfig, quiet=quiet, no_confine=no_confine,
                               net=net, no_grant=no_grant, upstream_auth=upstream_auth))
    raise typer.Exit(code)
