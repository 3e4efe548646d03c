"""The ``kgate`` executable's entry point.

``kgate exec`` is on the agent's critical path: everything before the agent starts is a wait. So
a well-formed ``kgate exec … -- CMD`` is parsed here without importing typer and rich (about
two thirds of the CLI's start-up); anything else — ``--help``, a typo, every other command —
goes to the typer application, which owns help text and usage errors.
"""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["exec"]:
        from kgate.agent.command import parse_fast
        options = parse_fast(argv[1:])
        if options is not None:
            sys.exit(_fast_exec(options))
    from kgate.cli import main as cli_main
    cli_main()


def _fast_exec(options: object) -> int:
    from kgate.agent.command import ExecOptions, execute
    from kgate.errors import ExitCode, KgateError

    assert isinstance(options, ExecOptions)
    try:
        return execute(options)
    except KgateError as err:
        from kgate.cli.app import report_error
        report_error(err)
        return int(err.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
