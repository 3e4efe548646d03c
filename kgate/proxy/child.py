"""The proxy as a child process of ``kgate exec``: ``python -m kgate.proxy.child``.

The parent has already bound the listening socket, minted the session and written the agent's
kubeconfig (see ``kgate.agent.launch``); this process only serves. It reads the launch spec from
an inherited pipe, serves on the inherited socket, says ``ready`` on the status pipe, and on
SIGTERM (or when the parent goes away: the launch pipe reaches end-of-file) stops, seals the
session log and exits 0. Later lines on the launch pipe carry the agent's process id once the
parent has started it. It never prints a traceback: an unexpected failure is reported as
one line on the status pipe and on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

from kgate.agent.launch import LaunchSpec, status_line, write_all
from kgate.errors import ExitCode, KgateError
from kgate.proxy.session import Session


def _read_spec(fd: int) -> tuple[LaunchSpec, bytes]:
    """The spec is the first line; what follows it (the agent's pid) is returned unread."""
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, 65536)
        if not chunk:
            raise ValueError("the launch pipe closed before the spec arrived")
        data += chunk
    line, _, rest = data.partition(b"\n")
    return LaunchSpec.from_bytes(line), rest


async def _serve(spec: LaunchSpec, sock: socket.socket, launch_fd: int, status_fd: int,
                 early: bytes = b"") -> bool:
    """Serve until told to stop; True if the parent went away without telling us."""
    from kgate.grants.agents import SessionAgents
    from kgate.policy import load_policy
    from kgate.proxy.runner import ProxyOptions, start_proxy
    from kgate.upstream_config import load_upstream

    home = Path(spec.home)
    settings = load_upstream(
        Path(spec.upstream_kubeconfig) if spec.upstream_kubeconfig else None, spec.context)
    policy = load_policy(Path(spec.policy) if spec.policy else None, home)
    session = Session(token=spec.token, id=spec.session_id)
    proxy = await start_proxy(ProxyOptions(
        upstream=settings, home=home, sock=sock, session=session, grant_id=spec.grant_id,
        policy=policy, agent_command=list(spec.agent_command or []) or None,
        upstream_auth=spec.upstream_auth or "kubeconfig",
        log_notify=lambda text: print(f"kgate: {text}", file=sys.stderr, flush=True)))
    if proxy.ca_pem.decode() != spec.ca_pem:
        await proxy.stop()
        raise KgateError("the loopback CA changed while kgate exec was starting; run it again",
                         exit_code=ExitCode.FAILURE)
    write_all(status_fd, status_line("ready", url=proxy.url))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    if proxy.grant_watch is not None:
        # The grant ended (expiry, revoke): the parent stops the agent with --kill-on-expiry.
        proxy.grant_watch.add_done_callback(lambda _t: _tell(status_fd, "grant-ended"))
    agents = SessionAgents(home)
    orphaned: list[bool] = []
    pending = bytearray()

    def take(data: bytes) -> None:
        pending.extend(data)
        while b"\n" in pending:
            line, _, rest = bytes(pending).partition(b"\n")
            pending[:] = rest
            with contextlib.suppress(ValueError):
                pid = json.loads(line).get("agent_pid")
                if isinstance(pid, int):
                    # recorded so that 'kgate approve' run from the agent's tree is refused
                    agents.record(session.id, pid)

    def from_parent() -> None:
        data = b""
        with contextlib.suppress(OSError):
            data = os.read(launch_fd, 4096)
        if not data:
            orphaned.append(True)   # end-of-file: the kgate exec process has gone away
            stop.set()
            return
        take(data)

    take(early)
    loop.add_reader(launch_fd, from_parent)
    try:
        await stop.wait()
    finally:
        loop.remove_reader(launch_fd)
        agents.end(session.id)
        agents.close()
        await proxy.stop()
    return bool(orphaned)


def _tell(status_fd: int, event: str) -> None:
    with contextlib.suppress(OSError):
        write_all(status_fd, status_line(event))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kgate.proxy.child")
    parser.add_argument("--listen-fd", type=int, required=True)
    parser.add_argument("--launch-fd", type=int, required=True)
    parser.add_argument("--status-fd", type=int, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides when the proxy stops
    try:
        spec, early = _read_spec(args.launch_fd)
        sock = socket.socket(fileno=args.listen_fd)
        from kgate.proxy.lean.runtime import serving
        orphaned = serving(_serve(spec, sock, args.launch_fd, args.status_fd, early))
    except KgateError as err:
        return _fail(args.status_fd, err.message, int(err.exit_code), err.hint)
    except Exception as err:  # noqa: BLE001 - one line, never a traceback (it could quote data)
        return _fail(args.status_fd, f"the proxy failed to run ({type(err).__name__})",
                     int(ExitCode.FAILURE), None)
    if orphaned and spec.agent_dir:
        # kgate exec was killed outright: remove the kubeconfig it could not remove itself.
        shutil.rmtree(spec.agent_dir, ignore_errors=True)
    return 0


def _fail(status_fd: int, message: str, code: int, hint: str | None) -> int:
    with contextlib.suppress(OSError):
        write_all(status_fd, status_line("error", message=message, exit=code, hint=hint))
    print(f"kgate proxy: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
