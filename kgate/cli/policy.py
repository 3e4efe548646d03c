"""``kgate policy check|eval|show``: validate a policy, ask what it would decide, show it.

``eval`` builds the request's facts with the proxy's own ``gather_facts`` and decides with the
proxy's own ``evaluate``, so its answer is the proxy's answer. Heavy imports stay inside the
commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from kgate.cli.app import app, console_err
from kgate.errors import ExitCode

if TYPE_CHECKING:
    from kgate.policy import Policy, PolicyInvalid

policy_app = typer.Typer(name="policy", help="Check, explain and show the policy.",
                         no_args_is_help=True)
app.add_typer(policy_app)

PolicyOption = Annotated[Path | None, typer.Option(
    "--policy", help="Policy file (default: $KGATE_POLICY, $KGATE_HOME/policy.yaml, else the "
                     "built-in default).")]


def _load(path: Path | None) -> Policy:
    from kgate.policy import load_policy
    return load_policy(path)


def print_problems(err: PolicyInvalid) -> None:
    """Every problem of an invalid policy, one file:line line each (``check`` and ``proxy``)."""
    for problem in err.problems:
        console_err.print(f"[bold red]error:[/bold red] {escape(str(problem))}", soft_wrap=True)


@policy_app.command("check")
def check_command(
    file: Annotated[Path | None, typer.Argument(help="Policy file (default: the lookup order "
                                                     "of --policy).")] = None,
) -> None:
    """Validate a policy file: exit 0, or 3 listing every problem as file:line."""
    from kgate.policy import PolicyInvalid
    try:
        policy = _load(file)
    except PolicyInvalid as err:
        print_problems(err)
        raise typer.Exit(int(ExitCode.CONFIG)) from None
    typer.echo(f"{policy.source}: ok ({len(policy.rules)} rules, "
               f"{len(policy.builtins_disabled)} built-in guardrails disabled)")


@policy_app.command("eval")
def eval_command(
    verb: Annotated[str, typer.Option("--verb", help="get, list, create, delete, …")] = "get",
    resource: Annotated[str, typer.Option("--resource", help="Plural resource, e.g. pods.")
                        ] = "",
    path: Annotated[str | None, typer.Option(
        "--path", help="A raw request path instead of --resource, e.g. /metrics or "
                       "/api/v1/namespaces/a/pods/p/proxy/.")] = None,
    subresource: Annotated[str, typer.Option("--subresource")] = "",
    api_group: Annotated[str, typer.Option("--api-group", help="'' (core), apps, …")] = "",
    namespace: Annotated[str, typer.Option("--namespace", "-n")] = "",
    name: Annotated[str, typer.Option("--name")] = "",
    body: Annotated[Path | None, typer.Option(
        "--body", help="Request body (JSON, YAML or a Kubernetes protobuf file).")] = None,
    content_type: Annotated[str | None, typer.Option(
        "--content-type", help="Body media type (default: from the file's contents).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="As with dryRun=All.")] = False,
    header: Annotated[list[str] | None, typer.Option(
        "--header", help="Request header NAME:VALUE (e.g. Impersonate-User:x).")] = None,
    policy_file: PolicyOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What the proxy would decide for one request, the deciding rule, and why."""
    from kgate.cli.evalrequest import build_request
    from kgate.policy import explain
    from kgate.proxy.facts import gather_facts
    from kgate.proxy.stages.masking import EngineMasker

    policy = _load(policy_file)
    raw = body.read_bytes() if body is not None else None
    attrs, headers, inspected, ctype = build_request(
        verb=verb, resource=resource, path=path, subresource=subresource, api_group=api_group,
        namespace=namespace, name=name, body=raw, content_type=content_type, dry_run=dry_run,
        headers=header or [])
    engine = EngineMasker(policy.masking)
    facts = gather_facts(attrs, headers, raw, inspected, ctype, engine)
    decision, steps = explain(policy, facts)
    if as_json:
        typer.echo(json.dumps({
            "decision": decision.action, "rule": decision.rule, "message": decision.message,
            "code": decision.code if decision.action == "deny" else None,
            "method": attrs.method, "path": attrs.path, "policy": policy.source,
            "steps": [{"name": s.name, "kind": s.kind, "outcome": s.outcome,
                       "action": s.action, "why": s.why} for s in steps]}, indent=2))
        return
    rule = decision.rule or "(no rule: allowed inside the grant)"
    typer.echo(f"{decision.action.upper()}  {attrs.method} {attrs.path}")
    typer.echo(f"  rule: {rule}")
    if decision.message:
        typer.echo(f"  message: kgate: {decision.message}")
    typer.echo(f"  policy: {policy.source}")
    for s in steps:
        mark = {"matched": "→", "no match": " ", "disabled": "×", "not reached": "·"}[s.outcome]
        typer.echo(f"  {mark} {s.kind:7} {s.name:26} {s.outcome:11} {s.action:6} {s.why}"
                   .rstrip())


@policy_app.command("show")
def show_command(
    policy_file: PolicyOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The effective policy: where it came from, the built-in guardrails, then the rules."""
    from kgate.policy.guardrails import GUARDRAILS

    policy = _load(policy_file)
    out: dict[str, Any] = {
        "source": policy.source, "sha256": policy.digest,
        "approvers": list(policy.approvers), "allowSelfApproval": policy.allow_self_approval,
        "holdTimeout": policy.hold_timeout, "holdReplayWindow": policy.hold_replay_window,
        "holdsNotify": list(policy.holds_notify),
        "builtins": [{"name": g.name, "enabled": g.name not in policy.builtins_disabled,
                      "canDisable": g.can_disable, "what": g.summary} for g in GUARDRAILS],
        "rules": [{"name": r.name, "action": r.action, "match": r.match.describe(),
                   "message": r.message} for r in policy.rules],
    }
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    typer.echo(f"policy: {policy.source} (sha256 {policy.digest[:12] or '-'})")
    typer.echo(f"holds: wait {policy.hold_timeout:g}s, replay window "
               f"{policy.hold_replay_window:g}s; approvers: "
               f"{', '.join(policy.approvers) or '(none listed)'}")
    typer.echo("built-in guardrails (evaluated first):")
    for g in out["builtins"]:
        state = "on " if g["enabled"] else "OFF"
        fixed = "" if g["canDisable"] else " (cannot be disabled)"
        typer.echo(f"  {state} {g['name']:26} {g['what']}{fixed}")
    typer.echo("rules (first match wins; no match: allowed inside the grant):")
    for r in out["rules"]:
        typer.echo(f"  {r['action']:6} {r['name']:26} {json.dumps(r['match'])}")
