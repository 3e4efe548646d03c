"""The ``kgate`` command line: one module per command group, each thin.

Commands turn options into calls on the library and ``KgateError`` into one rich line on stderr
with a named exit code. Heavy imports (the proxy, the sandbox's aiohttp, the kubernetes client)
happen inside commands, never at import time, so ``kgate --help`` and ``kgate exec`` start fast.
"""

from __future__ import annotations

import sys

from kgate.cli.app import app, report_error
from kgate.errors import ExitCode, KgateError

# Command modules register themselves on ``app`` when imported.
from kgate.cli import demo as _demo  # noqa: E402,F401  isort: skip
from kgate.cli import login as _login  # noqa: E402,F401  isort: skip
from kgate.cli import grants as _grants  # noqa: E402,F401  isort: skip
from kgate.cli import exec as _exec  # noqa: E402,F401  isort: skip
from kgate.cli import proxy as _proxy  # noqa: E402,F401  isort: skip
from kgate.cli import sessions as _sessions  # noqa: E402,F401  isort: skip
from kgate.cli import policy as _policy  # noqa: E402,F401  isort: skip
from kgate.cli import doctor as _doctor  # noqa: E402,F401  isort: skip
from kgate.cli import sandbox as _sandbox  # noqa: E402,F401  isort: skip

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point: run the app, map expected failures to exit codes."""
    try:
        app()
    except KgateError as err:
        report_error(err)
        sys.exit(int(err.exit_code))
    except KeyboardInterrupt:
        sys.exit(int(ExitCode.INTERRUPTED))
