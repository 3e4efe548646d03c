"""``kgate request|pending|approve|deny|revoke|grants``: asking for access and deciding on it.

``pending``/``approve``/``deny`` are the human's single inbox, generic over kinds (grants now,
held requests later) through ``kgate.grants.inbox``; every kind passes ``approval.authorize``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kgate.cli.app import app, console_err
from kgate.errors import ExitCode, UnavailableError
from kgate.grants.approval import authorize
from kgate.grants.discovery import AGGREGATED_ACCEPT, Catalog, fetch_catalog
from kgate.grants.durations import format_duration
from kgate.grants.identity import Identity, current_identity
from kgate.grants.inbox import source_for, sources
from kgate.grants.model import Grant, GrantState, rfc3339
from kgate.grants.request import GrantRequest, build_grant, split_list
from kgate.grants.rules import GrantRules, load_rules
from kgate.grants.store import SqliteGrantStore
from kgate.holds import inbox as _held  # noqa: F401  registers held requests (h-…) in the inbox

if TYPE_CHECKING:
    from kgate.policy.model import Policy

console = Console(highlight=False)

LOCAL_MODE_NOTE = ("Local mode (no identity provider): the agent runs as your OS user, so kgate "
                   "cannot stop a determined agent from running 'kgate approve' itself; it "
                   "refuses from inside a session or the agent's process tree and asks you to "
                   "type the id, but only an identity provider (kgate login) makes approval "
                   "proof of a human.")
WAIT_EXIT_HELP = "With --wait: exit 0 when approved, 5 when denied, 6 when nobody decided in time."


def _store() -> SqliteGrantStore:
    return SqliteGrantStore()


def _emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _cluster_catalog(kubeconfig: Path | None, context: str | None) -> Catalog:
    """The target cluster's resources, fetched with the user's own kubeconfig credential."""
    import asyncio
    import http.client
    import ssl

    from kgate.proxy.credentials import Credentials
    from kgate.upstream_config import load_upstream

    settings = load_upstream(kubeconfig, context)
    creds = Credentials(settings)

    async def prepare() -> tuple[ssl.SSLContext, str | None]:
        return await creds.ssl_context(), await creds.authorization()

    ctx, authorization = asyncio.run(prepare())
    host, port = settings.host_port

    def fetch(path: str) -> dict[str, object]:
        conn = (http.client.HTTPSConnection(host, port, context=ctx, timeout=15)
                if settings.server.startswith("https") else
                http.client.HTTPConnection(host, port, timeout=15))
        headers = {"Accept": AGGREGATED_ACCEPT}
        if authorization:
            headers["Authorization"] = authorization
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
        except OSError as err:
            raise UnavailableError(
                f"cannot reach the cluster {settings.server} (context {settings.context}) to "
                f"check --resource: {err}",
                hint="check the cluster is up, or omit --resource") from err
        finally:
            conn.close()
        if response.status != 200:
            raise UnavailableError(f"the cluster {settings.server} answered HTTP "
                                   f"{response.status} to {path} while checking --resource",
                                   hint="check your kubeconfig's credential (kubectl "
                                        "api-resources), or omit --resource")
        doc = json.loads(body)
        return doc if isinstance(doc, dict) else {}

    return fetch_catalog(fetch)


def _summary(grant: Grant) -> str:
    return f"{grant.describe_scope()} for {format_duration(grant.ttl)}"


@app.command("request", epilog="Example: kgate request --namespace payments --ttl 30m "
                               "--reason 'debug checkout' --wait\n\n" + WAIT_EXIT_HELP)
def request_command(
    namespace: Annotated[list[str], typer.Option(
        "--namespace", "-n", help="Namespace to grant (repeat for several).")],
    ttl: Annotated[str, typer.Option(
        "--ttl", help="How long, from approval: Go-style (90s, 15m, 1h30m), at least 10s, at "
                      "most the policy's grants.maxTTL.")],
    verb: Annotated[list[str] | None, typer.Option(
        "--verb", help="Verbs, comma-separated (default: the policy's grants.defaultVerbs, "
                       "get,list,watch).")] = None,
    resource: Annotated[list[str] | None, typer.Option(
        "--resource", help="Resources, comma-separated (pods, deployments.apps, pods/log); "
                           "checked against the cluster. Default: every namespaced "
                           "resource.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (shown to approvers).")
                      ] = None,
    context: Annotated[str | None, typer.Option(
        "--context", help="Context of your kubeconfig the grant is for.")] = None,
    kubeconfig: Annotated[Path | None, typer.Option(
        "--kubeconfig", help="Your kubeconfig (default: $KUBECONFIG or ~/.kube/config).")] = None,
    policy: Annotated[Path | None, typer.Option(
        "--policy", help="Policy file (default: $KGATE_POLICY, $KGATE_HOME/policy.yaml).")
    ] = None,
    wait: Annotated[bool, typer.Option(
        "--wait", help="Wait until a human decides; the exit code says how.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the grant as JSON.")] = False,
) -> None:
    """Ask for access to namespaces for a while; prints the grant id (g-…) and its state.

    The grant is pending until an approver runs 'kgate approve g-…', unless the policy's
    grants.autoApprove admits it. Nothing is stored if any check fails (exit 2).
    """
    rules = load_rules(policy)
    req = GrantRequest(namespaces=split_list(namespace), ttl=ttl, verbs=split_list(verb),
                       resources=split_list(resource), reason=reason, context=context)
    grant = build_grant(req, str(current_identity()), rules,
                        catalog=lambda: _cluster_catalog(kubeconfig, context))
    store = _store()
    try:
        store.create(grant)
        if as_json and not wait:
            _emit_json(grant.to_json())
        elif not as_json:
            _print_requested(grant)
        if not wait:
            return
        final = _wait_for_decision(store, grant, quiet=as_json)
    finally:
        store.close()
    if as_json:
        _emit_json(final.to_json())
    if final.state is GrantState.ACTIVE:
        return
    raise typer.Exit(int(ExitCode.DENIED if final.state is GrantState.DENIED
                         else ExitCode.UNAVAILABLE))


def _print_requested(grant: Grant) -> None:
    if grant.state is GrantState.ACTIVE:
        console.print(f"{grant.id} [green]active[/green] — {escape(_summary(grant))}; "
                      f"auto-approved by {escape(grant.auto_approved or '')}, until "
                      f"{rfc3339(grant.expires_at)}", soft_wrap=True)
        return
    console.print(f"{grant.id} [yellow]pending[/yellow] — {escape(_summary(grant))}",
                  soft_wrap=True)
    console.print(f"an approver runs: kgate approve {grant.id}   (unanswered, it expires at "
                  f"{rfc3339(grant.pending_until)})", soft_wrap=True)


def _wait_for_decision(store: SqliteGrantStore, grant: Grant, quiet: bool) -> Grant:
    def poll() -> Grant:
        current = store.get(grant.id)
        while current.state is GrantState.PENDING:
            time.sleep(0.5)
            current = store.get(grant.id)
        return current

    if quiet:
        final = poll()
    else:
        with console_err.status(f"waiting for a human to approve {grant.id} "
                                f"(kgate approve {grant.id}) …"):
            final = poll()
    if not quiet:
        if final.state is GrantState.ACTIVE:
            console.print(f"{final.id} [green]approved[/green] by {escape(final.approver or '')}"
                          f", active until {rfc3339(final.expires_at)}", soft_wrap=True)
        elif final.state is GrantState.DENIED:
            console.print(f"{final.id} [red]denied[/red] by {escape(final.approver or '')}"
                          + (f": {escape(final.comment)}" if final.comment else ""),
                          soft_wrap=True)
        else:
            console.print(f"{final.id} [red]{final.state}[/red]: nobody decided before "
                          f"{rfc3339(final.pending_until)}", soft_wrap=True)
    return final


@app.command("pending", epilog="Example: kgate pending --json")
def pending_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """What waits for a human: pending grants (g-…) and held requests (h-…)."""
    items = [item for source in sources(None) for item in source.pending()]
    items.sort(key=lambda item: item.created_at)
    if as_json:
        _emit_json([item.to_json() for item in items])
        return
    if not items:
        console.print("nothing waits for a decision")
        return
    table = Table("id", "kind", "requested", "by", "what")
    for item in items:
        table.add_row(item.id, item.kind, item.created_at, escape(item.requester),
                      escape(item.summary))
    console.print(table)
    console.print("decide with: kgate approve ID [--comment …] | kgate deny ID [--reason …]")


def _terminal_prompt(question: str) -> str | None:
    if not sys.stdin.isatty():
        return None
    try:
        return console_err.input(question)
    except EOFError:
        return None


def _decider(policy: Policy) -> Identity:
    """Who decides: ``local:<os user>``, or with an issuer configured the signed-in person, whose
    sign-in must be within the policy's ``approvals.maxAuthAge`` (step-up). A fresh sign-in can
    only be asked of a person at a terminal; elsewhere an old one is refused."""
    from kgate.auth.settings import load_oidc_settings
    from kgate.config import kgate_home

    if load_oidc_settings(kgate_home()) is None:
        return current_identity()
    return current_identity(max_auth_age=policy.approvals_max_auth_age,
                            show_url=_show_login_url if sys.stdin.isatty() else None)


def _show_login_url(url: str, opened: bool) -> None:
    console_err.print("This decision needs a fresh sign-in"
                      + (" (a browser window opened)" if opened else "") + f": {url}",
                      soft_wrap=True)


def _decide(item_id: str, action: str, why: str | None, yes: bool) -> None:
    source = source_for(item_id, None)
    requester = source.requester_of(item_id)
    from kgate.policy.loader import load_policy  # here: `kgate --help` need not parse YAML

    policy = load_policy(None)  # read once: the approvers and the step-up age alike
    decider = _decider(policy)
    authorize(item_id, requester, decider, GrantRules.from_policy(policy),
              action="approve" if action == "approve" else "deny", home=None, yes=yes,
              prompt=_terminal_prompt)
    result = (source.approve if action == "approve" else source.deny)(item_id, str(decider), why)
    console.print(escape(result), soft_wrap=True)


_YES_HELP = "Do not ask to type the id (local mode asks on the terminal otherwise)."


@app.command("approve", epilog="Example: kgate approve g-7f2c1a9e --comment 'on call, ok'")
def approve_command(
    item_id: Annotated[str, typer.Argument(metavar="ID", help="g-… (grant) or h-… (hold).")],
    comment: Annotated[str | None, typer.Option("--comment", help="Recorded with the decision.")
                       ] = None,
    yes: Annotated[bool, typer.Option("--yes", help=_YES_HELP)] = False,
) -> None:
    """Approve a pending grant or held request (you must be among the policy's approvers)."""
    _decide(item_id, "approve", comment, yes)


@app.command("deny", epilog="Example: kgate deny g-7f2c1a9e --reason 'use staging'")
def deny_command(
    item_id: Annotated[str, typer.Argument(metavar="ID", help="g-… (grant) or h-… (hold).")],
    reason: Annotated[str | None, typer.Option("--reason", help="Recorded with the decision.")
                      ] = None,
    yes: Annotated[bool, typer.Option("--yes", help=_YES_HELP)] = False,
) -> None:
    """Deny a pending grant or held request."""
    _decide(item_id, "deny", reason, yes)


@app.command("revoke", epilog="Example: kgate revoke g-7f2c1a9e --reason 'done'")
def revoke_command(
    grant_id: Annotated[str, typer.Argument(metavar="GRANT", help="The grant (g-…) to end.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Recorded, shown to the agent.")
                      ] = None,
) -> None:
    """End a grant now: proxies under it cut open streams and refuse every call.

    Anyone who can run kgate may end a grant: taking access away is always safe.
    """
    store = _store()
    try:
        grant = store.revoke(grant_id, str(current_identity()), reason)
    finally:
        store.close()
    console.print(f"{grant.id} revoked at {rfc3339(grant.ended_at)}; proxies under it cut "
                  "their open streams within a second", soft_wrap=True)


def _time_left(grant: Grant, now: float) -> str:
    if grant.state is GrantState.ACTIVE and grant.expires_at is not None:
        return format_duration(grant.expires_at - now)
    if grant.state is GrantState.PENDING:
        return f"(unanswered: expires in {format_duration(grant.pending_until - now)})"
    return "-"


@app.command("grants", epilog="Example: kgate grants --all --json")
def grants_command(
    show_all: Annotated[bool, typer.Option(
        "--all", help="Include ended grants (expired, revoked, denied).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List grants: pending and active ones (all with --all)."""
    store = _store()
    try:
        grants = store.grants(include_ended=show_all)
    finally:
        store.close()
    if as_json:
        _emit_json([g.to_json() for g in grants])
        return
    now = time.time()
    colour = {"active": "green", "pending": "yellow"}
    table = Table("id", "state", "namespaces", "verbs", "resources", "requester", "approver",
                  "time left")
    for g in grants:
        state = str(g.state)
        table.add_row(g.id, f"[{colour.get(state, 'red')}]{state}[/]", ",".join(g.namespaces),
                      ",".join(g.verbs), ",".join(g.resources) or "(all namespaced)",
                      escape(g.requester), escape(g.approver or "-"), _time_left(g, now))
    if grants:
        console.print(table)
    else:
        console.print("no grants" + ("" if show_all else " pending or active (--all shows "
                                                         "ended ones)"))
    if current_identity().is_local:
        console.print(f"[dim]{LOCAL_MODE_NOTE}[/dim]", soft_wrap=True)
