"""Running one agent session: the proxy child, the agent, signals, and cleanup on every way out.

The order is what makes the agent start at once: bind the loopback socket, mint the session,
write the 0600 kubeconfig into a private temp dir, spawn the proxy child (socket and spec
inherited, never in argv or the environment), then spawn the agent straight away. The agent's
first connection waits in the listen backlog until the child is serving.

Then one loop waits on four things — the agent exiting, the child exiting, the child's status
messages, and signals — with ``pidfd``s and a self-pipe, so nothing is polled. Whatever ends the
session (the agent exits, Ctrl-C, SIGTERM, the agent killed, the proxy crashing), the same
``finally`` stops the child, deletes the kubeconfig directory; the summary's counts come from the
session log's index.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgate.agent.environment import agent_environment
from kgate.agent.launch import LaunchSpec, write_all
from kgate.errors import ExitCode, KgateError, UnavailableError
from kgate.kubeconfig import write_kubeconfig
from kgate.proxy.session import new_session_id

if TYPE_CHECKING:
    from kgate.agent.confine import ConfineRequest

#: How long the child may take to stop and report before it is killed.
STOP_TIMEOUT = 10.0
#: How long the agent gets after SIGTERM before SIGKILL, when kgate ends it.
AGENT_GRACE = 5.0
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


@dataclass(frozen=True)
class ExecPlan:
    """What to run and where to forward it."""

    command: Sequence[str]
    home: Path
    upstream_kubeconfig: Path | None = None
    context: str | None = None
    grant_id: str | None = None
    policy: Path | None = None
    namespace: str | None = None
    kill_on_expiry: bool = False
    #: How to confine the agent (None: ``--no-confine``).
    confine: ConfineRequest | None = None
    #: Whose credential goes upstream: ``kubeconfig`` or ``oidc`` (``kgate login``).
    upstream_auth: str = "kubeconfig"


@dataclass
class Outcome:
    """How the session ended."""

    session_id: str
    exit_code: int
    counts: dict[str, int] = field(default_factory=dict)
    #: Why kgate (not the agent) ended the session, if it did.
    failure: str | None = None
    failure_hint: str | None = None
    signals: list[int] = field(default_factory=list)
    agent_started: float | None = None
    kubeconfig: Path | None = None


def loopback_ca(home: Path) -> bytes:
    """The loopback CA certificate the proxy will present (created on first use)."""
    pki = home / "pki"
    cert, key = pki / "ca.crt", pki / "ca.key"
    if cert.exists() and key.exists():
        return cert.read_bytes()
    from cryptography.hazmat.primitives import serialization

    from kgate.pki import load_or_create_ca
    ca_cert, _ = load_or_create_ca(pki)
    return ca_cert.public_bytes(serialization.Encoding.PEM)


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    return sock


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):   # not Linux ≥ 5.3: fall back to a short poll
        return None


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class _Terminal:
    """The controlling terminal, lent to the agent's process group while it runs."""

    def __init__(self, fd: int, owner: int) -> None:
        self._fd = fd
        self._owner = owner

    @classmethod
    def hand_to(cls, pgid: int) -> _Terminal | None:
        """Make ``pgid`` the terminal's foreground group if kgate is in the foreground now."""
        try:
            fd = sys.stdin.fileno()
            if not os.isatty(fd) or os.tcgetpgrp(fd) != os.getpgrp():
                return None
            with _ttou_ignored():
                os.tcsetpgrp(fd, pgid)
        except (OSError, ValueError):
            return None
        return cls(fd, os.getpgrp())

    def take_back(self) -> None:
        with contextlib.suppress(OSError), _ttou_ignored():
            os.tcsetpgrp(self._fd, self._owner)


@contextlib.contextmanager
def _ttou_ignored() -> Iterator[None]:
    """A background group that sets the terminal's foreground group gets SIGTTOU unless it
    ignores it."""
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGTTOU, old)


class _Session:
    """The processes and files of one ``kgate exec`` run."""

    def __init__(self, plan: ExecPlan) -> None:
        self.plan = plan
        self.session_id = new_session_id()
        self.child: subprocess.Popen[bytes] | None = None
        self.agent: subprocess.Popen[bytes] | None = None
        self.agent_dir: Path | None = None
        self.launch_w: int | None = None
        self.status_r: int | None = None
        self.status_buf = b""
        self.ready = False
        self.terminal: _Terminal | None = None
        self.proxy_port = 0

    # -- start -----------------------------------------------------------------------------

    def start_proxy(self) -> Path:
        """Bind, mint, write the kubeconfig and spawn the child; return the kubeconfig path."""
        plan = self.plan
        token = secrets.token_urlsafe(32)
        ca_pem = loopback_ca(plan.home)
        sock = _listen()
        self.proxy_port = sock.getsockname()[1]
        try:
            self.agent_dir = Path(tempfile.mkdtemp(prefix=f"kgate-{self.session_id}-"))
            kubeconfig = write_kubeconfig(
                self.agent_dir / "kubeconfig", server=f"https://127.0.0.1:{sock.getsockname()[1]}",
                ca_pem=ca_pem, token=token, namespace=plan.namespace)
            spec = LaunchSpec(
                session_id=self.session_id, token=token, home=str(plan.home),
                ca_pem=ca_pem.decode(),
                upstream_kubeconfig=str(plan.upstream_kubeconfig)
                if plan.upstream_kubeconfig else None,
                context=plan.context, grant_id=plan.grant_id,
                policy=str(plan.policy) if plan.policy else None,
                agent_dir=str(self.agent_dir), confined=plan.confine is not None,
                agent_command=list(plan.command), upstream_auth=plan.upstream_auth)
            launch_r, self.launch_w = os.pipe()
            self.status_r, status_w = os.pipe()
            try:
                self.child = subprocess.Popen(
                    [sys.executable, "-m", "kgate.proxy.child", "--listen-fd",
                     str(sock.fileno()), "--launch-fd", str(launch_r), "--status-fd",
                     str(status_w)],
                    pass_fds=(sock.fileno(), launch_r, status_w), stdin=subprocess.DEVNULL,
                    start_new_session=True)   # a terminal's Ctrl-C must not stop it first
            finally:
                os.close(launch_r)
                os.close(status_w)
            write_all(self.launch_w, spec.to_bytes() + b"\n")
        finally:
            sock.close()   # the child holds it now; if the child dies, connects are refused
        return kubeconfig

    def start_agent(self, kubeconfig: Path) -> None:
        env = agent_environment(os.environ, kubeconfig=kubeconfig, session_id=self.session_id)
        confiner = None
        if self.plan.confine is not None:   # Landlock, applied in the child before exec
            from kgate.agent.confine import confiner_for
            assert self.agent_dir is not None
            confiner = confiner_for(self.plan.confine, agent_dir=self.agent_dir,
                                    proxy_port=self.proxy_port, env=env)
        try:
            # Its own process group, handed the terminal like a shell's foreground job: Ctrl-C
            # reaches the agent's whole tree once, and a signal sent to kgate is forwarded to
            # that group (a shell waiting on kubectl would otherwise never see it).
            self.agent = subprocess.Popen(list(self.plan.command), env=env, process_group=0,
                                          preexec_fn=confiner)
        except subprocess.SubprocessError:   # only the confiner raises in the child
            raise KgateError("could not confine the agent (see the line above)",
                             hint="pass --no-confine to run it unconfined") from None
        except FileNotFoundError:
            raise KgateError(f"command not found: {self.plan.command[0]}",
                             hint="give the agent's command after --, e.g. "
                                  "kgate exec -- kubectl get pods",
                             exit_code=ExitCode.USAGE) from None
        except PermissionError:
            raise KgateError(f"cannot run {self.plan.command[0]}: permission denied",
                             hint="a confined agent runs programs only from system "
                                  "directories, $HOME and the working directory"
                             if confiner else None, exit_code=ExitCode.USAGE) from None
        finally:
            if confiner is not None:
                confiner.close()
        self.terminal = _Terminal.hand_to(self.agent.pid)

    # -- status messages from the child ----------------------------------------------------

    def read_status(self) -> list[dict[str, Any]]:
        """Messages now readable on the status pipe ([] and the pipe closed at end-of-file)."""
        assert self.status_r is not None
        try:
            data = os.read(self.status_r, 65536)
        except BlockingIOError:
            return []
        if not data:
            return [{"event": "eof"}]
        self.status_buf += data
        *lines, self.status_buf = self.status_buf.split(b"\n")
        out: list[dict[str, Any]] = []
        for line in lines:
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict):
                    out.append(message)
        return out

    def read_all_status(self) -> list[dict[str, Any]]:
        """Everything left on the status pipe of a child that has exited."""
        out: list[dict[str, Any]] = []
        while self.status_r is not None:
            messages = self.read_status()
            if not messages or any(m.get("event") == "eof" for m in messages):
                out.extend(m for m in messages if m.get("event") != "eof")
                return out
            out.extend(messages)
        return out

    # -- stop ------------------------------------------------------------------------------

    def stop_agent(self) -> None:
        agent = self.agent
        if agent is None or agent.poll() is not None:
            return
        _signal_group(agent.pid, signal.SIGTERM)
        try:
            agent.wait(AGENT_GRACE)
        except subprocess.TimeoutExpired:
            _signal_group(agent.pid, signal.SIGKILL)
            agent.wait()

    def stop_proxy(self) -> None:
        """SIGTERM the child, collect its summary, make sure it is gone."""
        child = self.child
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
            deadline = time.monotonic() + STOP_TIMEOUT
            while self.status_r is not None and time.monotonic() < deadline:
                ready, _, _ = select.select([self.status_r], [], [],
                                            max(0.0, deadline - time.monotonic()))
                if not ready:
                    break
                messages = self.read_status()
                if any(m.get("event") == "eof" for m in messages):
                    break
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def cleanup(self) -> None:
        if self.terminal is not None:
            self.terminal.take_back()
            self.terminal = None
        for fd in (self.launch_w, self.status_r):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.launch_w = self.status_r = None
        if self.agent_dir is not None:
            shutil.rmtree(self.agent_dir, ignore_errors=True)


def run_session(plan: ExecPlan, *, on_started: Callable[[Outcome], None] | None = None
                ) -> Outcome:
    """Run ``plan.command`` behind a kgate proxy child; return how it ended."""
    if not plan.command:
        raise KgateError("no command to run", hint="kgate exec -- COMMAND [ARGS…]",
                         exit_code=ExitCode.USAGE)
    s = _Session(plan)
    outcome = Outcome(session_id=s.session_id, exit_code=int(ExitCode.FAILURE))
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    old_wakeup = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    old_handlers = {sig: signal.signal(sig, lambda *_: None) for sig in _FORWARDED}
    selector = selectors.DefaultSelector()
    try:
        kubeconfig = s.start_proxy()
        outcome.kubeconfig = kubeconfig
        s.start_agent(kubeconfig)
        outcome.agent_started = time.monotonic()
        assert s.agent is not None and s.launch_w is not None
        with contextlib.suppress(OSError):   # the child records it: approvals from its tree fail
            write_all(s.launch_w, json.dumps({"agent_pid": s.agent.pid}).encode() + b"\n")
        if on_started is not None:
            on_started(outcome)
        assert s.agent is not None and s.child is not None and s.status_r is not None
        os.set_blocking(s.status_r, False)
        selector.register(s.status_r, selectors.EVENT_READ, "status")
        selector.register(wake_r, selectors.EVENT_READ, "signal")
        pidfds: list[int] = []
        for name, proc in (("agent", s.agent), ("child", s.child)):
            fd = _pidfd(proc.pid)
            if fd is not None:
                pidfds.append(fd)
                selector.register(fd, selectors.EVENT_READ, name)
        try:
            _wait(s, selector, outcome, poll=len(pidfds) < 2)
        finally:
            for fd in pidfds:
                os.close(fd)
    finally:
        selector.close()
        signal.set_wakeup_fd(old_wakeup)
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
        wake_r.close()
        wake_w.close()
        try:
            s.stop_agent()
            s.stop_proxy()
        finally:
            s.cleanup()
    outcome.counts = session_counts(plan.home, s.session_id)
    return outcome


def _wait(s: _Session, selector: selectors.BaseSelector, outcome: Outcome, *, poll: bool
          ) -> None:
    """The session's event loop: returns when the agent has exited (or been ended)."""
    assert s.agent is not None and s.child is not None
    while True:
        code = s.agent.poll()
        if code is not None:
            outcome.exit_code = code if code >= 0 else 128 - code
            return
        if s.child.poll() is not None:
            # The child is gone: whatever it said is in the pipe already. An "error" message
            # (it could not start) explains itself; anything else is a crash.
            messages = s.read_all_status()
            if not _handle_status(s, messages, outcome):
                _proxy_died(s, outcome, f"the kgate proxy stopped unexpectedly (exit "
                                        f"{s.child.returncode}); the agent's calls can no "
                                        "longer reach the cluster, so kgate ended the agent")
            return
        for key, _ in selector.select(timeout=0.5 if poll else None):
            if key.data == "signal":
                for signum in _drain_signals(key.fileobj):  # type: ignore[arg-type]
                    outcome.signals.append(signum)
                    _signal_group(s.agent.pid, signum)
            elif key.data == "status":
                messages = s.read_status()
                if _handle_status(s, messages, outcome):
                    return
                if any(m.get("event") == "eof" for m in messages):
                    selector.unregister(key.fileobj)


def _handle_status(s: _Session, messages: list[dict[str, Any]], outcome: Outcome) -> bool:
    """Act on the child's messages; True if they end the session."""
    for m in messages:
        event = m.get("event")
        if event == "ready":
            s.ready = True
        elif event == "error":
            outcome.failure = str(m.get("message") or "the proxy failed")
            hint = m.get("hint")
            outcome.failure_hint = hint if isinstance(hint, str) else None
            code = m.get("exit")
            outcome.exit_code = code if isinstance(code, int) else int(ExitCode.FAILURE)
            s.stop_agent()
            return True
        elif event == "grant-ended" and s.plan.kill_on_expiry:
            outcome.failure = str(m.get("message") or "the grant ended")
            outcome.exit_code = int(ExitCode.DENIED)
            s.stop_agent()
            return True
    return False


def session_counts(home: Path, session_id: str) -> dict[str, int]:
    """What the session's log says it did (calls, denied, held, masked); {} if unreadable."""
    from kgate.audit.index import SessionIndex
    try:
        index = SessionIndex(home)
    except Exception:  # noqa: BLE001 - a summary line is not worth failing the exit over
        return {}
    try:
        index.sync()
        for row in index.sessions():
            if row["id"] == session_id:
                return {k: int(row[k] or 0) for k in ("calls", "denied", "held", "masked")}
    except Exception:  # noqa: BLE001
        return {}
    finally:
        index.close()
    return {}


def _proxy_died(s: _Session, outcome: Outcome, why: str) -> None:
    outcome.failure = why
    outcome.exit_code = int(ExitCode.UNAVAILABLE)
    s.stop_agent()


def _drain_signals(sock: socket.socket) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(BlockingIOError):
        while data := sock.recv(64):
            out.extend(data)
    return out


__all__ = ["ExecPlan", "Outcome", "UnavailableError", "loopback_ca", "run_session"]
