"""``kgate holds list|approve|deny``: a minimal, temporary inbox for held requests.

The real human inbox is ``kgate pending / approve / deny`` (``kgate.grants.inbox``), which also
applies the approval identity rules; at merge these commands fold into it. Until then they
refuse inside an agent session (``KGATE_SESSION`` set) and approve as ``local:<os user>``.
"""

from __future__ import annotations

import getpass
import json
import os
from typing import Annotated

import typer

from kgate.cli.app import app
from kgate.errors import AuthError

holds_app = typer.Typer(name="holds", help="Held requests awaiting a human (temporary; see "
                                           "'kgate pending').", no_args_is_help=True)
app.add_typer(holds_app)


def _approver() -> str:
    if os.environ.get("KGATE_SESSION"):
        raise AuthError("refusing to decide a hold from inside an agent session "
                        "(KGATE_SESSION is set)")
    return f"local:{getpass.getuser()}"


@holds_app.command("list")
def list_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Held requests a human may still approve or deny."""
    from kgate.holds.inbox import HoldSource
    items = HoldSource().pending()
    if as_json:
        typer.echo(json.dumps([{"id": i.id, "kind": i.kind, "created_at": i.created_at,
                                "requester": i.requester, "summary": i.summary, **i.details}
                               for i in items], indent=2, default=str))
        return
    for i in items:
        typer.echo(f"{i.id}  {i.created_at}  {i.requester}  {i.summary}")
        if i.details.get("diff"):
            for line in str(i.details["diff"]).splitlines():
                typer.echo(f"    {line}")


@holds_app.command("approve")
def approve_command(
    hold_id: Annotated[str, typer.Argument(help="h-…")],
    comment: Annotated[str | None, typer.Option("--comment")] = None,
) -> None:
    """Let a held request through (or admit it once if its call already timed out)."""
    from kgate.holds.inbox import HoldSource
    typer.echo(HoldSource().approve(hold_id, _approver(), comment))


@holds_app.command("deny")
def deny_command(
    hold_id: Annotated[str, typer.Argument(help="h-…")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Refuse a held request; the agent sees the reason."""
    from kgate.holds.inbox import HoldSource
    typer.echo(HoldSource().deny(hold_id, _approver(), reason))
