"""What ``kgate exec`` does once its options are parsed, shared by the typer command and the
fast path in ``kgate.entry`` (which skips importing typer so the agent starts sooner)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kgate.errors import ExitCode, KgateError

if TYPE_CHECKING:
    from kgate.agent.confine import ConfineRequest
    from kgate.upstream_config import UpstreamSettings


@dataclass
class ExecOptions:
    """``kgate exec``'s options, as both parsers produce them."""

    command: list[str] = field(default_factory=list)
    grant: str | None = None
    policy: Path | None = None
    kill_on_expiry: bool = False
    context: str | None = None
    kubeconfig: Path | None = None
    quiet: bool = False
    #: Run unscoped, for trying kgate out (policy and masking still apply).
    no_grant: bool = False
    #: ``kubeconfig`` (default) or ``oidc``: whose credential goes upstream.
    upstream_auth: str = "kubeconfig"
    #: Run the agent without Landlock confinement (it can then read your credentials).
    no_confine: bool = False
    #: ``proxy-only`` or ``ports:443,80``: TCP ports the confined agent may connect to.
    net: str | None = None


def execute(options: ExecOptions) -> int:
    """Run the agent behind a proxy child; return its exit code (``KgateError`` if kgate, not
    the agent, ended the session)."""
    from kgate.agent.supervise import ExecPlan, run_session
    from kgate.config import kgate_home
    from kgate.grants.select import choose_grant
    from kgate.policy import load_policy
    from kgate.upstream_config import load_upstream

    # Everything that can be wrong is found here, before the agent starts: the kubeconfig, the
    # policy (file:line errors), the grant.
    settings = load_upstream(options.kubeconfig, options.context)
    home = kgate_home()
    load_policy(options.policy, home)
    grant_id = choose_grant(options.grant, options.no_grant)
    if options.kill_on_expiry and grant_id is None:
        raise KgateError("--kill-on-expiry needs a grant to expire", exit_code=ExitCode.USAGE)
    plan = ExecPlan(command=options.command, home=home,
                    upstream_kubeconfig=options.kubeconfig, context=options.context,
                    grant_id=grant_id, policy=options.policy,
                    kill_on_expiry=options.kill_on_expiry, upstream_auth=options.upstream_auth,
                    confine=_confine_request(options, home, settings))
    outcome = run_session(plan)
    if outcome.failure is not None:
        code = outcome.exit_code
        raise KgateError(outcome.failure, hint=outcome.failure_hint,
                         exit_code=ExitCode(code) if code in ExitCode._value2member_map_
                         else None)
    if not options.quiet:
        print_summary(outcome.session_id, outcome.counts, outcome.exit_code,
                      confined=plan.confine is not None)
    return outcome.exit_code


def _confine_request(options: ExecOptions, home: Path, settings: UpstreamSettings
                     ) -> ConfineRequest | None:
    """Check the kernel can confine (refuse in one line if not) and what to deny."""
    if options.no_confine:
        if options.net is not None:
            raise KgateError("--net limits a confined agent; it cannot go with --no-confine",
                             exit_code=ExitCode.USAGE)
        return None
    from kgate.agent.confine import ConfineRequest, NetPolicy, require
    from kgate.upstream_config import default_kubeconfig_paths

    net = NetPolicy.parse(options.net)
    abi = require()
    paths = [settings.source, *default_kubeconfig_paths()]
    if options.kubeconfig is not None:
        paths.append(options.kubeconfig)
    if settings.token_file is not None:
        paths.append(settings.token_file)
    return ConfineRequest(abi=abi, kgate_home=home, net=net,
                          kubeconfigs=tuple(str(p) for p in paths))


def print_summary(session_id: str, counts: dict[str, int], code: int, *,
                  confined: bool = True) -> None:
    """One rich line on stderr: what the session did, and how to see it."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True, highlight=False)
    calls = counts.get("calls", 0)
    parts = [f"{calls} call{'s' if calls != 1 else ''}"]
    for key, style in (("denied", "red"), ("held", "yellow"), ("masked", "cyan"),
                       ("errors", "red")):
        n = counts.get(key, 0)
        parts.append(f"[{style}]{n} {key}[/]" if n else f"{n} {key}")
    parts.append("confined" if confined else "[yellow]not confined (--no-confine)[/]")
    console.print(f"[bold]kgate[/]: session {escape(session_id)} ended (agent exit {code}) — "
                  + ", ".join(parts), soft_wrap=True)
    console.print(f"[dim]see it with: kgate sessions show {escape(session_id)}[/]",
                  soft_wrap=True)


_VALUED = {"--grant": "grant", "--policy": "policy", "--context": "context",
           "--kubeconfig": "kubeconfig", "--net": "net", "--upstream-auth": "upstream_auth"}
_FLAGS = {"--kill-on-expiry": "kill_on_expiry", "--quiet": "quiet", "-q": "quiet",
          "--no-confine": "no_confine", "--no-grant": "no_grant"}


def parse_fast(argv: list[str]) -> ExecOptions | None:
    """Parse ``exec``'s arguments without typer; None for anything unusual (``--help``, an
    unknown or incomplete option, no command), which the typer command then reports."""
    options = ExecOptions()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            options.command = argv[i + 1:]
            break
        if not arg.startswith("-"):
            options.command = argv[i:]
            break
        name, eq, value = arg.partition("=")
        if name in _VALUED:
            if not eq:
                if i + 1 >= len(argv):
                    return None
                i += 1
                value = argv[i]
            attr = _VALUED[name]
            if attr == "upstream_auth" and value not in ("kubeconfig", "oidc"):
                return None
            setattr(options, attr, Path(value) if attr in ("policy", "kubeconfig") else value)
        elif arg in _FLAGS:
            setattr(options, _FLAGS[arg], True)
        else:
            return None
        i += 1
    return options if options.command else None
