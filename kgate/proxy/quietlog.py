"""asyncio's error reports without payload.

A failed I/O callback (a protocol method that raised, a TLS error on a transport) is reported by
asyncio with a traceback whose exception message can quote the bytes being handled, which can
include the agent's session token or a secret it sent. ``OneLine`` keeps only what happened and
the exception's type. (The proxy's HTTP server reports a malformed request itself, in its own
words: ``lean.connection``.)
"""

from __future__ import annotations

import logging


class OneLine(logging.Filter):
    """Reduce a library's own error reports to one line without payload.

    asyncio's reports of failed callbacks carry a traceback whose exception message can quote
    the data being handled — which can include the agent's session token or a secret it sent.
    kgate keeps only what happened and the exception's type.
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
