"""``kgate sessions``: list, show, verify, export and replay session logs; export the key.

The JSONL files under ``$KGATE_HOME/sessions`` are the truth; the index in ``kgate.db`` is caught
up from them on every listing. ``verify`` has its own exit codes (0 intact and sealed, 1
tampered, 2 intact but not sealed), as the design fixes them for scripts and auditors.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kgate.cli.app import app, console_err
from kgate.errors import ConfigError, KgateError

if TYPE_CHECKING:
    from kgate.audit.index import SessionIndex


class VerifyExit(IntEnum):
    """``kgate sessions verify`` exit codes."""

    INTACT = 0
    TAMPERED = 1
    UNSEALED = 2


sessions_app = typer.Typer(
    name="sessions", no_args_is_help=True,
    help="Session logs: what the agent did, and proof that nobody edited the record.\n\n"
         "Example: kgate sessions list; kgate sessions show --denied; kgate sessions verify --all")
key_app = typer.Typer(name="key", no_args_is_help=True,
                      help="The installation's session-signing key.")
sessions_app.add_typer(key_app)
app.add_typer(sessions_app)
console = Console(highlight=False)

_FORMATS = ("jsonl", "k8s-audit")


def _home() -> Path:
    from kgate.config import kgate_home
    return kgate_home()


def _index() -> SessionIndex:
    from kgate.audit.index import SessionIndex
    index = SessionIndex(_home())
    index.sync()
    return index


def _log_path(session_id: str | None) -> tuple[str, Path]:
    """The log of ``session_id`` (default: the newest session)."""
    if session_id is None:
        index = _index()
        try:
            session_id = index.newest()
        finally:
            index.close()
        if session_id is None:
            raise KgateError("there are no session logs yet", hint="run an agent with "
                             "'kgate proxy' first")
    if not session_id.startswith("s-") or "/" in session_id or os.sep in session_id:
        raise KgateError(f"{session_id!r} is not a session id (s-…)")
    path = _home() / "sessions" / f"{session_id}.jsonl"
    if not path.is_file():
        raise KgateError(f"no session log {session_id}", hint="see 'kgate sessions list'")
    return session_id, path


def _time(t: Any) -> str:
    if not isinstance(t, int | float):
        return ""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _state(row: Any) -> str:
    if row["sealed_head"] is not None:
        if (row["sealed_records"] == row["indexed_records"]
                and row["sealed_head"] == row["indexed_head"]):
            return "sealed"
        return "CHANGED"
    pid = row["pid"]
    if isinstance(pid, int) and _alive(pid):
        return "live"
    return "not sealed"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@sessions_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List sessions: who, grant, when, how many calls were made, denied, held, masked.

    Example: kgate sessions list --json
    """
    index = _index()
    try:
        rows = index.sessions()
    finally:
        index.close()
    if as_json:
        sys.stdout.write(orjson.dumps([{
            "id": r["id"], "grant": r["grant_id"], "identity": r["identity"],
            "started_at": _time(r["started_at"]) or None,
            "ended_at": _time(r["ended_at"]) or None,
            "calls": r["calls"], "denied": r["denied"], "held": r["held"],
            "masked": r["masked"], "sealed": _state(r) == "sealed"} for r in rows],
            option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table("id", "who", "grant", "started", "duration", "calls", "denied", "held",
                  "masked", "state")
    for r in rows:
        duration = ""
        if isinstance(r["started_at"], int | float) and isinstance(r["ended_at"], int | float):
            duration = f"{r['ended_at'] - r['started_at']:.0f}s"
        state = _state(r)
        style = {"sealed": "green", "CHANGED": "bold red", "live": "cyan"}.get(state, "yellow")
        table.add_row(r["id"], escape(r["identity"] or ""), escape(r["grant_id"] or "-"),
                      _time(r["started_at"]), duration, str(r["calls"]), str(r["denied"]),
                      str(r["held"]), str(r["masked"]), f"[{style}]{state}[/{style}]")
    console.print(table)


def _text(value: Any) -> str:
    """A value for the terminal: control characters (an agent's ANSI escapes in its
    Kubectl-Command header) shown as ``?``, rich markup escaped."""
    text = str(value)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else "?" for c in text)
    return escape(text)


def _row(r: dict[str, Any]) -> list[str]:
    kind = r.get("kind")
    when = _time(r.get("t"))[11:19]
    if kind != "request":
        detail = {"start": f"session {r.get('session')} for {r.get('identity')}",
                  "end": f"sealed: {r.get('calls')} calls, head {str(r.get('head'))[:16]}…",
                  "stream-close": f"recording {r.get('recording') or '-'}",
                  "stream-open": f"{r.get('verb', '')} {r.get('path', '')}"}.get(
                      str(kind), ", ".join(f"{k}={v}" for k, v in r.items()
                                           if k not in ("prev", "seq", "kind", "t", "sig")))
        return [when, f"[dim]{_text(kind)}[/dim]", "", "", "", _text(detail),
                "", "", ""]
    resource = r.get("resource") or r.get("path", "")
    if r.get("group"):
        resource = f"{resource}.{r['group']}"
    if r.get("subresource"):
        resource = f"{resource}/{r['subresource']}"
    target = "/".join(x for x in (r.get("namespace"), r.get("name")) if x)
    decision = str(r.get("decision", ""))
    if r.get("rule"):
        decision += f" ({r['rule']})"
    colour = {"allow": "green", "deny": "red"}.get(str(r.get("decision")), "yellow")
    return [when, _text(r.get("command") or ""), _text(r.get("verb", "")),
            _text(resource), _text(target), f"[{colour}]{_text(decision)}[/{colour}]",
            str(r.get("status", "")), f"{r.get('ms', 0):.1f}", str(r.get("masked", 0) or "")]


def _wanted(r: dict[str, Any], denied: bool) -> bool:
    if r.get("kind") == "checkpoint":
        return False
    if not denied:
        return True
    return r.get("kind") == "request" and (r.get("decision") not in ("allow", None)
                                           or bool(r.get("hold")))


@sessions_app.command("show")
def show_command(
    session: Annotated[str | None, typer.Argument(help="Session id (s-…); default: newest.")]
    = None,
    denied: Annotated[bool, typer.Option("--denied", help="Only refused or held calls.")]
    = False,
    follow: Annotated[bool, typer.Option("--follow", "-f",
                                         help="Keep printing records as a live session "
                                              "writes them, until it ends.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the records as JSON.")]
    = False,
) -> None:
    """The timeline of a session: time, kubectl command, verb, resource, namespace/name,
    decision and rule, status code, latency, masked values.

    Example: kgate sessions show s-3f9a1c2e4b5d --denied
    """
    from kgate.audit.export import follow as follow_records
    from kgate.audit.export import records
    _, path = _log_path(session)
    if follow:
        for r in follow_records(path):
            if _wanted(r, denied):
                if as_json:
                    sys.stdout.write(orjson.dumps(r).decode() + "\n")
                    sys.stdout.flush()
                else:
                    console.print("  ".join(c for c in _row(r) if c), soft_wrap=True)
        return
    chosen = [r for r in records(path) if _wanted(r, denied)]
    if as_json:
        sys.stdout.write(orjson.dumps(chosen, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table("time", "command", "verb", "resource", "namespace/name", "decision", "code",
                  "ms", "masked")
    for r in chosen:
        table.add_row(*_row(r))
    console.print(table)


@sessions_app.command("verify")
def verify_command(
    target: Annotated[str | None, typer.Argument(
        help="Session id (s-…), or with --key the path of a copied log file.")] = None,
    all_sessions: Annotated[bool, typer.Option("--all", help="Verify every session.")] = False,
    key: Annotated[Path | None, typer.Option(
        "--key", help="Public key (from 'kgate sessions key export') to check signatures "
                      "with, e.g. on another machine.")] = None,
) -> None:
    """Check a log's hash chain and signatures. Exit 0 intact and sealed, 1 tampered (naming
    the first bad record and what is wrong), 2 intact but not sealed (running or crashed).

    Example: kgate sessions verify --key kgate-sessions.pub ./s-3f9a1c2e4b5d.jsonl
    """
    from kgate.audit.signing import FileKeyStore, load_public
    from kgate.audit.verify import verify_log
    home = _home()
    if key is not None:
        public = load_public(key)
    else:
        maybe = FileKeyStore(home).public_key()
        if maybe is None:
            raise ConfigError(f"no session-signing key under {home / 'keys'}",
                              hint="pass --key PUB (from 'kgate sessions key export')")
        public = maybe
    index = _index()
    try:
        if all_sessions:
            targets = [(r["id"], Path(r["path"])) for r in index.sessions()]
        elif target is not None and (key is not None or not target.startswith("s-")):
            targets = [("", Path(target))]
        else:
            targets = [_log_path(target)]
        worst = VerifyExit.INTACT
        for session_id, path in targets:
            if not path.is_file():
                console.print(f"[bold red]{escape(session_id or str(path))}: MISSING[/bold red]"
                              " — the log file is gone")
                worst = VerifyExit.TAMPERED
                continue
            seal = index.seal(session_id) if session_id else None
            verdict = verify_log(path, public, seal)
            code = (VerifyExit.TAMPERED if verdict.tampered else
                    VerifyExit.INTACT if verdict.sealed else VerifyExit.UNSEALED)
            style = {VerifyExit.INTACT: "green", VerifyExit.TAMPERED: "bold red"}.get(
                code, "yellow")
            console.print(f"[{style}]{escape(verdict.summary())}[/{style}]", soft_wrap=True)
            for note in verdict.notes:
                console.print(f"[dim]  note: {escape(note)}[/dim]")
            worst = max(worst, code, key=lambda c: (c == VerifyExit.TAMPERED, c))
    finally:
        index.close()
    raise typer.Exit(int(worst))


@sessions_app.command("export")
def export_command(
    session: Annotated[str, typer.Argument(help="Session id (s-…).")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl (the log as is) or k8s-audit "
                                                      "(an audit.k8s.io/v1 EventList).")]
    = "jsonl",
) -> None:
    """Write a session to stdout: the log itself, or Kubernetes audit Events for a SIEM.

    Example: kgate sessions export s-3f9a1c2e4b5d --format k8s-audit > audit.json
    """
    if fmt not in _FORMATS:
        raise KgateError(f"unknown format {fmt!r}; use one of {', '.join(_FORMATS)}")
    from kgate.audit.export import to_event_list
    _, path = _log_path(session)
    if fmt == "jsonl":
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return
    sys.stdout.write(orjson.dumps(to_event_list(path), option=orjson.OPT_INDENT_2).decode()
                     + "\n")


@sessions_app.command("play")
def play_command(
    session: Annotated[str | None, typer.Argument(help="Session id (s-…); default: newest.")]
    = None,
    speed: Annotated[float, typer.Option("--speed", min=0.01, help="Playback speed factor.")]
    = 1.0,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Print without pauses.")] = False,
) -> None:
    """Replay the session's exec/attach recordings (masked, as the agent saw them).

    Example: kgate sessions play s-3f9a1c2e4b5d --speed 4
    """
    from kgate.audit.export import records
    from kgate.audit.recording import play
    session_id, path = _log_path(session)
    names = [str(r["recording"]) for r in records(path)
             if r.get("kind") == "stream-close" and isinstance(r.get("recording"), str)]
    if not names:
        raise KgateError(f"session {session_id} has no exec or attach recordings")
    for name in names:
        cast = path.parent / name
        if not cast.is_file() or cast.parent.name != session_id:
            console_err.print(f"[yellow]{escape(name)}: missing[/yellow]")
            continue
        console_err.print(f"[dim]── {escape(name)}[/dim]")
        play(cast, speed=speed, wait=not no_wait)


@sessions_app.command("reindex")
def reindex_command() -> None:
    """Rebuild the session index from the log files (the logs are the source of truth).

    Example: kgate sessions reindex
    """
    from kgate.audit.index import SessionIndex
    index = SessionIndex(_home())
    try:
        n = index.reindex()
    finally:
        index.close()
    console_err.print(f"reindexed {n} session(s)")


@key_app.command("export")
def key_export_command(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the public key here "
                                                                 "(default: stdout).")] = None,
) -> None:
    """Write the public key that verifies this installation's session logs (PEM).

    The private key is kept in $KGATE_HOME/keys/ (0600) until kgate's keyring store exists.
    Example: kgate sessions key export -o kgate-sessions.pub
    """
    from kgate.audit.signing import FileKeyStore, key_id, public_pem
    public = FileKeyStore(_home()).private_key().public_key()
    pem = public_pem(public)
    if out is None:
        sys.stdout.write(pem.decode())
    else:
        out.write_bytes(pem)
        console_err.print(f"public key {key_id(public)} written to {escape(str(out))}")
