"""``kgate demo``: a whole session end to end, narrated, with no cluster or identity provider."""

from __future__ import annotations

from typing import Annotated

import typer

from kgate.cli.app import app


@app.command("demo")
def demo_command(
    keep: Annotated[bool, typer.Option(
        "--keep", help="Keep the demo's private KGATE_HOME (session log, grants) afterwards.")
    ] = False,
) -> None:
    """Watch a whole kgate session, narrated: no cluster or identity provider needed.

    A sandbox cluster, a grant, a scripted agent under kgate exec (reads a Secret, tails a log,
    tries to delete a namespace, deletes a pod that a human approves), then the session log and
    its verification. Takes about ten seconds; cleans up after itself.

    Example: kgate demo
    """
    from rich.console import Console

    from kgate.demo import run_demo

    raise typer.Exit(run_demo(Console(highlight=False), keep=keep))
