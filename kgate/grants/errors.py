"""Errors of the human's inbox, shared by every kind of item (grants now, holds later)."""

from __future__ import annotations

from kgate.errors import ExitCode, KgateError


class NotFound(KgateError):
    """No grant or hold has this id."""

    exit_code = ExitCode.FAILURE


class AlreadyDecided(KgateError):
    """Someone decided first (or the item expired): the later decision changes nothing."""

    exit_code = ExitCode.FAILURE


class NotAllowed(KgateError):
    """This identity may not make this decision here (approvers, self-approval, agent)."""

    exit_code = ExitCode.DENIED
