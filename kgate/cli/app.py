"""The root typer application and the one place errors are rendered for humans."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from kgate.errors import KgateError

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 failure, 2 usage, 3 config, 4 auth, 5 denied, 6 unavailable, "
    "7 tampered, 130 interrupted."
)

app = typer.Typer(
    name="kgate",
    help="kgate — a local credential broker between an AI agent and Kubernetes.\n\n"
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

console_err = Console(stderr=True, highlight=False)


def report_error(err: KgateError) -> None:
    """Print a ``KgateError`` as one line (plus an optional hint line), never a traceback."""
    console_err.print(f"[bold red]error:[/bold red] {escape(err.message)}", soft_wrap=True)
    if err.hint:
        console_err.print(f"[dim]hint:[/dim] {escape(err.hint)}", soft_wrap=True)


@app.callback()
def _root() -> None:
    """kgate — a local credential broker between an AI agent and Kubernetes."""
