"""Which grant a proxy (``kgate proxy``, ``kgate exec``) runs under: the one named, else the single
active one; none or several is a one-line error that says how to choose."""

from __future__ import annotations

from kgate.errors import ExitCode, KgateError


class NoUsableGrant(KgateError):
    exit_code = ExitCode.USAGE


def choose_grant(grant: str | None, no_grant: bool) -> str | None:
    """The grant id to enforce: the one given, or the single active one; ``None`` = unscoped."""
    if grant and no_grant:
        raise NoUsableGrant("--grant and --no-grant contradict each other",
                            hint="give one of them")
    if no_grant:
        return None
    if grant:
        return grant
    from kgate.grants.store import SqliteGrantStore

    store = SqliteGrantStore()
    try:
        active = [g for g in store.grants() if g.state == "active"]
    finally:
        store.close()
    if len(active) == 1:
        return active[0].id
    if not active:
        raise NoUsableGrant("no active grant to run under",
                            hint="ask for one: kgate request --namespace NS --ttl 30m (or try "
                                 "kgate unscoped with --no-grant)")
    listed = "; ".join(f"{g.id} ({g.describe_scope()})" for g in active)
    raise NoUsableGrant(f"several active grants: {listed}",
                        hint=f"choose one with --grant {active[0].id}")
