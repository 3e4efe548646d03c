"""``docs/cli.md``, rendered from the commands themselves so the two cannot drift.

``python -m kgate.cli.reference > docs/cli.md`` rewrites the file; a test fails when the file and
the commands disagree. The text is the commands' own ``help=``: the help is the documentation.
"""

from __future__ import annotations

from typing import Any

import typer

from kgate.cli import app
from kgate.cli.app import EXIT_CODES_HELP

_HEADER = """# kgate command reference

Generated from the commands' own help by `python -m kgate.cli.reference > docs/cli.md`
(a test keeps it in sync). Every command also answers `--help`.

"""


def _option_row(param: Any) -> str:
    names = ", ".join(f"`{n}`" for n in (*param.opts, *param.secondary_opts))
    help_text = " ".join((getattr(param, "help", None) or "").split())
    default = getattr(param, "default", None)
    shown = "" if default in (None, False, (), []) or _is_argument(param) \
        else f" (default: `{default}`)"
    return f"| {names} | {help_text}{shown} |"


def _is_argument(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _command(name: str, command: Any) -> list[str]:
    out = [f"## `kgate {name}`", ""]
    help_text = (command.help or "").strip()
    if help_text:
        out += [help_text, ""]
    args = [p for p in command.params if _is_argument(p)]
    opts = [p for p in command.params if not _is_argument(p) and not p.hidden]
    if args:
        out.append("Arguments: " + ", ".join(f"`{(p.name or '').upper()}`" for p in args))
        out.append("")
    if opts:
        out += ["| option | meaning |", "|---|---|", *(_option_row(p) for p in opts), ""]
    return out


def _walk(prefix: str, group: Any) -> list[str]:
    out: list[str] = []
    for name in sorted(group.commands):
        command = group.commands[name]
        if command.hidden:
            continue
        full = f"{prefix}{name}"
        if hasattr(command, "commands"):
            out += [f"## `kgate {full}`", "", (command.help or "").strip(), ""]
            out += _walk(f"{full} ", command)
        else:
            out += _command(full, command)
    return out


def render() -> str:
    """The whole reference as Markdown."""
    root = typer.main.get_command(app)
    lines = [_HEADER.rstrip("\n"), "", EXIT_CODES_HELP, "", *_walk("", root), *_agent_env()]
    return "\n".join(lines).rstrip() + "\n"


def _agent_env() -> list[str]:
    from kgate.agent.environment import REMOVED_NAMES, REMOVED_PREFIXES
    return [
        "## What `kgate exec` removes from the agent's environment", "",
        "The agent gets `KUBECONFIG` (its own, generated) and `KGATE_SESSION`. These are "
        "removed, so that no credential of yours reaches it through the environment:", "",
        "- by name: " + ", ".join(f"`{n}`" for n in REMOVED_NAMES),
        "- by prefix: " + ", ".join(f"`{p}*`" for p in REMOVED_PREFIXES), "",
        "Files such as `~/.kube/config` or `~/.aws/credentials` are not reached through the "
        "environment; keeping the agent from reading them is confinement's job "
        "(see docs/threat-model.md).", ""]


if __name__ == "__main__":
    print(render(), end="")
