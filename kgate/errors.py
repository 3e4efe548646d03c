"""The kgate error family and exit codes.

Expected failures (bad input, missing config, a refused call) are ``KgateError`` subclasses that
carry a one-line user message, an optional hint and an exit code; the CLI renders them as a single
rich line. Anything else is a bug and is allowed to surface as one.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes that scripts may rely on (documented in ``kgate --help``)."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    CONFIG = 3
    AUTH = 4
    DENIED = 5
    UNAVAILABLE = 6
    TAMPERED = 7
    INTERRUPTED = 130


class KgateError(Exception):
    """A failure the user can act on: message, optional hint, exit code."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *, hint: str | None = None,
                 exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(KgateError):
    """Configuration (kubeconfig, policy, config.toml) is missing or contradictory."""

    exit_code = ExitCode.CONFIG


class AuthError(KgateError):
    """Authentication failed or credentials are unavailable."""

    exit_code = ExitCode.AUTH


class UnavailableError(KgateError):
    """A dependency (cluster, IdP, port) could not be reached or bound."""

    exit_code = ExitCode.UNAVAILABLE
