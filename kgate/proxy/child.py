"""The proxy as a child process of ``kgate exec``: ``python -m kgate.proxy.child``.

The parent has already bound the listening socket, minted the session and written the agent's
kubeconfig (see ``kgate.agent.launch``); this process only serves. It reads the launch spec from
an inherited pipe, serves on the inherited socket, says ``ready`` on the status pipe, and on
SIGTERM (or when the parent goes away: the launch pipe reaches end-of-file) stops, reports the
session's counts and exits 0. It never prints a traceback: an unexpected failure is reported as
one line on the status pipe and on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

from kgate.agent.launch import LaunchSpec, status_line, write_all
from kgate.errors import ExitCode, KgateError
from kgate.proxy.session import Exchange, Session


class SessionCounts:
    """Counts what the summary shows; forwards every exchange to the real sink, if any."""

    def __init__(self) -> None:
        self.calls = self.denied = self.held = self.masked = self.errors = 0

    def record(self, exchange: Exchange) -> None:
        self.calls += 1
        self.masked += exchange.masked
        if exchange.decision == "deny":
            self.denied += 1
        elif exchange.decision == "error":
            self.errors += 1
        if exchange.decision == "review" or exchange.rule == "hold":
            self.held += 1

    def as_dict(self) -> dict[str, int]:
        return {"calls": self.calls, "denied": self.denied, "held": self.held,
                "masked": self.masked, "errors": self.errors}


def _read_spec(fd: int) -> LaunchSpec:
    """The spec is one line; the pipe then stays open until the parent exits."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 65536)
        if not chunk:
            raise ValueError("the launch pipe closed before the spec arrived")
        data += chunk
    return LaunchSpec.from_bytes(data)


async def _serve(spec: LaunchSpec, sock: socket.socket, launch_fd: int, status_fd: int
                 ) -> bool:
    """Serve until told to stop; True if the parent went away without telling us."""
    from kgate.proxy.runner import ProxyOptions, start_proxy
    from kgate.upstream_config import load_upstream

    settings = load_upstream(
        Path(spec.upstream_kubeconfig) if spec.upstream_kubeconfig else None, spec.context)
    counts = SessionCounts()
    session = Session(token=spec.token, id=spec.session_id, grant_id=spec.grant_id)
    proxy = await start_proxy(ProxyOptions(upstream=settings, home=Path(spec.home), sock=sock,
                                           session=session, audit=counts))
    if proxy.ca_pem.decode() != spec.ca_pem:
        await proxy.stop()
        raise KgateError("the loopback CA changed while kgate exec was starting; run it again",
                         exit_code=ExitCode.FAILURE)
    write_all(status_fd, status_line("ready", url=proxy.url))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)

    orphaned: list[bool] = []

    def parent_gone() -> None:
        with contextlib.suppress(OSError):
            if os.read(launch_fd, 4096):
                return
        orphaned.append(True)   # end-of-file: the kgate exec process has gone away
        stop.set()

    loop.add_reader(launch_fd, parent_gone)
    try:
        await stop.wait()
    finally:
        loop.remove_reader(launch_fd)
        await proxy.stop()
    with contextlib.suppress(OSError):
        write_all(status_fd, status_line("summary", **counts.as_dict()))
    return bool(orphaned)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kgate.proxy.child")
    parser.add_argument("--listen-fd", type=int, required=True)
    parser.add_argument("--launch-fd", type=int, required=True)
    parser.add_argument("--status-fd", type=int, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides when the proxy stops
    try:
        spec = _read_spec(args.launch_fd)
        sock = socket.socket(fileno=args.listen_fd)
        orphaned = asyncio.run(_serve(spec, sock, args.launch_fd, args.status_fd))
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
