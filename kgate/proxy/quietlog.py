"""Library error reports without payload, for both engines.

A malformed request (a bad request line, a broken header) or a failed I/O callback is reported by
aiohttp and asyncio with a traceback whose exception message can quote the offending bytes, which
can include the agent's session token or a secret it sent. ``OneLine`` keeps only what happened
and the exception's type.
"""

from __future__ import annotations

import logging


class OneLine(logging.Filter):
    """Reduce a library's own error reports to one line without payload.

    aiohttp logs a malformed request (a bad request line, a broken header) with a traceback
    whose exception message quotes the offending bytes — which can include the agent's session
    token or a secret it sent; asyncio's reports of failed callbacks can quote data the same
    way. kgate keeps only what happened and the exception's type.
    """

    def __init__(self, what: str) -> None:
        super().__init__()
        self._what = what

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        why = f" ({type(exc).__name__})" if exc is not None else ""
        record.msg = f"kgate: {self._what}{why}"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True




_asyncio_quieted: list[bool] = []


def quiet_asyncio() -> None:
    """Reduce asyncio's reports of failed callbacks to one line (once per process)."""
    if not _asyncio_quieted:
        logging.getLogger("asyncio").addFilter(OneLine("an I/O callback failed"))
        _asyncio_quieted.append(True)
