"""A confined agent cannot walk around the gate: the hostile agent's attempts, run for real.

Each test runs ``python -m kgate exec`` against the sandbox with a fake ``$HOME`` holding the
broker's credentials where a real user keeps them (a working kubeconfig with the broker's token
in ``~/.kube/config``, gcloud and aws files, ``$KGATE_HOME`` with a session log, a D-Bus session
bus stand-in) and lets the agent try each way around kgate. The same agent is then run with
``--no-confine``, where every attempt succeeds: that proves confinement is what stops them.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kgate.sandbox.runner import ADMIN_TOKEN, ADMIN_USER, SandboxOptions, sandbox_in_thread
from kgate.sandbox.seed import DB_PASSWORD
from tests.fixtures.proxy import BROKER_USER

pytestmark = pytest.mark.timeout(180)
PYTHON = "/usr/bin/python3"   # the agent's own interpreter (the test's lives under /root)


class BusStandIn:
    """A UNIX socket server where the session bus would be: answers ``bus-ok`` to a client."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"bus-ok")

    def close(self) -> None:
        self.sock.close()


@dataclass
class World:
    tmp: Path
    home: Path
    kgate_home: Path
    upstream: Path
    upstream_port: int
    kubectl: str
    markers: dict[str, str]
    #: The session bus stand-in, where DBUS_SESSION_BUS_ADDRESS says.
    bus: Path
    #: Another socket in $XDG_RUNTIME_DIR (where keyring and gpg agents listen).
    runtime_socket: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
        env.update(KGATE_HOME=str(self.kgate_home), HOME=str(self.home), PYTHONUNBUFFERED="1",
                   XDG_RUNTIME_DIR=str(self.runtime_socket.parent),
                   DBUS_SESSION_BUS_ADDRESS=f"unix:path={self.bus}",
                   # a secret in kgate's own environment: /proc/<kgate>/environ must stay shut
                   AWS_SECRET_ACCESS_KEY=self.markers["environ"])
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        return env

    def run(self, *cmd: str, options: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "kgate", "exec", "--no-grant", "--kubeconfig",
                str(self.upstream),
                *options, "--", *cmd]
        return subprocess.run(argv, capture_output=True, text=True, env=self.env(),
                              timeout=120, check=False)


@pytest.fixture(params=["kgate-home-in-home", "kgate-home-elsewhere"])
def world(request: pytest.FixtureRequest, tmp_path: Path, kubectl_bin: str) -> Iterator[World]:
    broker_token = "broker-" + secrets.token_urlsafe(16)
    home = tmp_path / "home"
    kgate_home = (home / ".local" / "state" / "kgate" if request.param == "kgate-home-in-home"
                  else tmp_path / "kgate-home")
    markers = {name: f"{name}-planted-{secrets.token_hex(6)}"
               for name in ("gcloud", "aws", "session-log", "environ")}
    for rel, text in ((".config/gcloud/credentials.db", markers["gcloud"]),
                      (".aws/credentials", f"[default]\naws_secret_access_key = "
                                           f"{markers['aws']}\n"),
                      (".config/some-agent/settings.json", "{}"),
                      ("notes.txt", "the agent's own file"),
                      (".bashrc", "# the user's shell start-up\n")):
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(text)
    (kgate_home / "sessions").mkdir(parents=True)
    (kgate_home / "sessions" / "s-earlier.jsonl").write_text(markers["session-log"] + "\n")
    options = SandboxOptions(state_dir=tmp_path / "sandbox", seed="demo",
                             tokens={broker_token: BROKER_USER, ADMIN_TOKEN: ADMIN_USER})
    bus = BusStandIn(tmp_path / "dbus" / "session-bus")
    runtime_socket = BusStandIn(tmp_path / "run-user" / "keyring" / "control")
    try:
        with sandbox_in_thread(options) as sandbox:
            upstream = sandbox.write_kubeconfig(tmp_path / "user" / "config", token=broker_token)
            # the user's own kubeconfig where kubectl looks by default: the broker's credential
            sandbox.write_kubeconfig(home / ".kube" / "config", token=broker_token)
            port = int(sandbox.url.rsplit(":", 1)[1].split("/")[0])
            yield World(tmp=tmp_path, home=home, kgate_home=kgate_home, upstream=upstream,
                        upstream_port=port, kubectl=kubectl_bin, markers=markers,
                        bus=bus.path, runtime_socket=runtime_socket.path)
    finally:
        bus.close()
        runtime_socket.close()


# (the pattern must not match this script's own command line, which quotes it)
_FIND_PROXY = ('for p in /proc/[0-9]*; do if tr "\\0" " " < $p/cmdline 2>/dev/null | '
               'grep -q "kgate[.]proxy[.]child --listen-fd" '
               '&& [ "$(awk \'/^PPid/{print $2}\' $p/status)" = "$PPID" ]; then '
               'echo ${p#/proc/}; fi; done')


def _shell_agent(w: World) -> str:
    k = w.kubectl
    bus = (f"{PYTHON} -c \"import socket; s = socket.socket(socket.AF_UNIX); "
           f"s.connect('{w.bus}'); print(s.recv(16).decode())\"")
    probes = {
        "via-kgate": f"{k} get ns -o name",
        "kube-config": "cat ~/.kube/config",
        "kubectl-direct": f"{k} --kubeconfig ~/.kube/config get secrets -n prod-payments -o yaml",
        "gcloud": "cat ~/.config/gcloud/credentials.db",
        "aws": "cat ~/.aws/credentials",
        "upstream-kubeconfig": f"cat {w.upstream}",
        "list-kgate-home": f"ls {w.kgate_home}",
        "session-log": f"cat {w.kgate_home}/sessions/s-earlier.jsonl",
        "dbus": bus,
        "stop-proxy": 'proxy=$(' + _FIND_PROXY + '); kill -STOP "$proxy" && kill -CONT "$proxy"',
        "signal-kgate": 'kill -0 "$PPID"',
        "plant-in-bashrc": 'echo "cat ~/.kube/config > ~/notes.txt" >> ~/.bashrc',
        "own-files": "cat ~/notes.txt ~/.config/some-agent/settings.json >/dev/null && "
                     "echo x > ./.confine-probe && rm ./.confine-probe && "
                     'echo y > "$TMPDIR/t" && cat "$TMPDIR/t"',
        "own-child": "sleep 30 & kill -TERM $! && wait $!; [ $? -eq 143 ]",
    }
    return "\n".join(f"echo '=== {name}'; ( {cmd} ) 2>&1; echo \"=== rc=$?\""
                     for name, cmd in probes.items())


def _results(stdout: str) -> dict[str, tuple[int, str]]:
    """Each probe's exit code and output, from the ``=== name`` / ``=== rc=N`` markers."""
    out: dict[str, tuple[int, str]] = {}
    name, body = None, []
    for line in stdout.splitlines():
        if line.startswith("=== rc="):
            assert name is not None
            out[name] = (int(line.removeprefix("=== rc=")), "\n".join(body))
            name, body = None, []
        elif line.startswith("=== "):
            name = line.removeprefix("=== ")
        else:
            body.append(line)
    return out


_DENIED = ("Permission denied", "permission denied", "Operation not permitted")


def _leaks(w: World, text: str) -> list[str]:
    import base64
    secrets_ = [DB_PASSWORD, base64.b64encode(DB_PASSWORD.encode()).decode(),
                *w.markers.values()]
    return [s[:6] + "…" for s in secrets_ if s in text]   # never the value itself


def test_confined_agent_cannot_reach_the_brokers_credentials(world: World) -> None:
    w = world
    proc = w.run("sh", "-c", _shell_agent(w))
    assert proc.returncode == 0, proc.stderr
    results = _results(proc.stdout)
    code, text = results.pop("via-kgate")
    assert code == 0 and "namespace/prod-payments" in text, text
    for name in ("own-files", "own-child"):
        code, text = results.pop(name)
        assert code == 0, (name, text)
    code, text = results.pop("dbus")
    assert code != 0 and "bus-ok" not in text
    assert any(e in text for e in ("No such file", "Permission denied", "Connection refused"))
    for name, (code, text) in results.items():
        assert code != 0, f"{name} succeeded under confinement"
        assert any(e in text for e in _DENIED), (name, text[-300:])
    assert not _leaks(w, proc.stdout + proc.stderr)
    assert "confined" in proc.stderr and "not confined" not in proc.stderr


def test_no_confine_lets_every_attempt_through(world: World) -> None:
    """The control: the same agent unconfined gets everything, so confinement is the cause."""
    w = world
    proc = w.run("sh", "-c", _shell_agent(w), options=("--no-confine",))
    assert proc.returncode == 0, proc.stderr
    results = _results(proc.stdout)
    failed = [name for name, (code, _) in results.items() if code != 0]
    assert failed == [], failed
    assert "bus-ok" in results["dbus"][1]
    assert len(_leaks(w, proc.stdout)) >= 4   # the DB password, gcloud, aws and the log
    assert "not confined (--no-confine)" in proc.stderr


_PY_AGENT = r"""
import json, os, signal, socket, sys
paths, bus, runtime_socket, kgate_home = json.loads(sys.argv[1])
ppid = os.getppid()
proxy = [int(p) for p in os.listdir("/proc") if p.isdigit()
         and b"kgate.proxy.child\0--listen-fd" in open(f"/proc/{p}/cmdline", "rb").read()
         and f"PPid:\t{ppid}\n" in open(f"/proc/{p}/status").read()]
out = {}
def attempt(name, fn):
    try:
        fn()
        out[name] = "ok"
    except OSError as err:
        out[name] = type(err).__name__
for p in paths:
    attempt("open " + p, lambda p=p: open(p, "rb").read())
attempt("listdir kgate home", lambda: os.listdir(kgate_home))
attempt("environ of kgate", lambda: open(f"/proc/{ppid}/environ", "rb").read())
attempt("fds of the proxy", lambda: open(f"/proc/{proxy[0]}/fd/0", "rb").close())
attempt("kill proxy", lambda: (os.kill(proxy[0], signal.SIGSTOP),
                               os.kill(proxy[0], signal.SIGCONT)))
attempt("kill kgate", lambda: os.kill(ppid, signal.SIGCONT))
for name, path in (("bus", bus), ("runtime dir socket", runtime_socket)):
    def connect(path=path):
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        if s.recv(16) != b"bus-ok":
            raise ConnectionError
    attempt(name, connect)
print(json.dumps(out))
"""


def _python_agent(w: World) -> tuple[str, ...]:
    import json
    paths = [str(w.home / ".kube" / "config"), str(w.home / ".config/gcloud/credentials.db"),
             str(w.home / ".aws" / "credentials"), str(w.upstream),
             str(w.kgate_home / "sessions" / "s-earlier.jsonl")]
    return (PYTHON, "-c", _PY_AGENT,
            json.dumps([paths, str(w.bus), str(w.runtime_socket), str(w.kgate_home)]))


def test_python_agent_gets_errors_from_open_kill_and_connect(world: World) -> None:
    import json
    w = world
    proc = w.run(*_python_agent(w))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out) == 12
    if os.getuid() == 0:
        # Landlock refuses a confined process ptrace-mode reads of processes outside its domain
        # only without CAP_SYS_PTRACE: a root agent can still read kgate's environment and open
        # its descriptors (docs/confinement.md). tests/agent/test_landlock.py proves the
        # non-root case.
        for name in ("environ of kgate", "fds of the proxy"):
            del out[name]
    for name, result in out.items():
        if "bus" in name or "socket" in name:   # hidden: the path leads nowhere
            assert result in ("FileNotFoundError", "ConnectionRefusedError",
                              "PermissionError"), (name, result)
        else:
            assert result == "PermissionError", (name, result)
    unconfined = json.loads(w.run(*_python_agent(w), options=("--no-confine",)).stdout)
    assert set(unconfined.values()) == {"ok"}, unconfined


_CONNECT = ("import socket, sys\n"
            "try:\n"
            "    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10).close()\n"
            "    print('connected')\n"
            "except OSError as err:\n"
            "    print(type(err).__name__)\n")


def test_net_proxy_only_blocks_the_api_servers_port_but_not_the_proxy(world: World) -> None:
    w = world
    script = (f"{PYTHON} -c \"$1\" {w.upstream_port}; "
              f"{w.kubectl} get ns -o name | head -1")
    proc = w.run("sh", "-c", script, "agent", _CONNECT, options=("--net", "proxy-only"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["PermissionError", "namespace/default"], proc.stdout
    allowed = w.run("sh", "-c", script, "agent", _CONNECT,
                    options=("--net", f"ports:{w.upstream_port}"))
    assert allowed.stdout.split() == ["connected", "namespace/default"], allowed.stdout


def test_net_option_errors_are_one_line(world: World) -> None:
    for options, needle in ((("--net", "ports:http"), "--net 'ports:http'"),
                            (("--net", "proxy-only", "--no-confine"), "cannot go with")):
        proc = world.run("true", options=options)
        assert proc.returncode == 2, proc.stderr
        assert needle in proc.stderr and "Traceback" not in proc.stderr
