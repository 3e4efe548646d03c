"""``kgate doctor``: one line per check — ok, warn or fail, with the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kgate.cli.app import app
from kgate.errors import ExitCode

_STYLE = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[bold red]fail[/]"}


@app.command("doctor")
def doctor_command(
    kubeconfig: Annotated[Path | None, typer.Option(
        "--kubeconfig", help="Your kubeconfig (default: $KUBECONFIG or ~/.kube/config).")
    ] = None,
    context: Annotated[str | None, typer.Option(
        "--context", help="Context of your kubeconfig to check.")] = None,
    policy: Annotated[Path | None, typer.Option("--policy", help="Policy file to check.")
                      ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Check config, token store, identity provider, cluster, policy, loopback CA and kubectl.

    Exits 1 if any check fails (warnings do not fail).

    Example: kgate doctor --context staging
    """
    from rich.console import Console

    from kgate.config import kgate_home
    from kgate.doctor import DoctorOptions, run_checks

    checks = run_checks(DoctorOptions(home=kgate_home(), kubeconfig=kubeconfig,
                                      context=context, policy=policy))
    failed = any(c.status == "fail" for c in checks)
    if as_json:
        typer.echo(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        table = Table(show_header=False, box=None, pad_edge=False)
        for c in checks:
            detail = escape(c.detail) + (f"\n[dim]fix: {escape(c.fix)}[/]" if c.fix and
                                         c.status != "ok" else "")
            table.add_row(_STYLE[c.status], f"[bold]{escape(c.name)}[/]", detail)
        Console(highlight=False).print(table)
    raise typer.Exit(int(ExitCode.FAILURE if failed else ExitCode.OK))
