"""Holds: one call the policy sent to review, paused until a human approves or denies it.

``model`` (``HoldRequest`` — what was held, masked — and ``Hold`` with its state) · ``store``
(SQLite in ``kgate.db``; every decision and admission an atomic conditional UPDATE) · ``gate``
(the proxy side: create, notify, poll, time out, replay once) · ``diff`` (a masked unified diff
from a server-side dry run) · ``inbox`` (the hold source for ``kgate pending/approve/deny``).
"""
