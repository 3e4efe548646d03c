"""The Landlock binding on its own: ABI levels, rulesets, and what the kernel then refuses.

Each confining test forks: ``restrict_self`` cannot be undone, so it runs in a child that reports
back through its exit code and a pipe.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kgate.agent import landlock as ll


def test_abi_levels_map_to_rights() -> None:
    assert ll.fs_rights(0) == 0 and ll.net_rights(3) == 0 and ll.scopes(5) == 0
    assert ll.fs_rights(1) == (1 << 13) - 1
    assert ll.fs_rights(2) & ll.FS_REFER and not ll.fs_rights(2) & ll.FS_TRUNCATE
    assert ll.fs_rights(4) & ll.FS_TRUNCATE and not ll.fs_rights(4) & ll.FS_IOCTL_DEV
    assert ll.fs_rights(7) == ll.FS_ALL
    assert ll.net_rights(4) == ll.NET_BIND_TCP | ll.NET_CONNECT_TCP
    assert ll.scopes(6) == ll.SCOPE_SIGNAL | ll.SCOPE_ABSTRACT_UNIX_SOCKET


def test_this_kernel_has_a_usable_abi() -> None:
    # CI runs on a kernel with Landlock ABI ≥ 6; failing here means the confinement tests
    # would prove nothing, so this fails instead of skipping.
    assert sys.platform == "linux"
    assert ll.abi_version() >= 6


def _in_child(body: Callable[[], dict[str, str]]) -> dict[str, str]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # pragma: no cover - the child
        code = 0
        try:
            os.write(w, json.dumps(body()).encode())
        except BaseException as err:  # noqa: BLE001
            os.write(w, json.dumps({"error": repr(err)}).encode())
            code = 1
        os._exit(code)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    out: dict[str, str] = json.loads(data)
    assert "error" not in out, out
    return out


def _try(fn: Callable[[], object]) -> str:
    try:
        fn()
    except OSError as err:
        return type(err).__name__
    return "ok"


def _ruleset(abi: int, *, net: bool = False) -> ll.Ruleset:
    return ll.Ruleset(ll.Handled(fs=ll.fs_rights(abi),
                                 net=ll.NET_CONNECT_TCP if net else 0, scoped=ll.scopes(abi)))


def test_files_outside_the_rules_are_refused(tmp_path: Path) -> None:
    allowed, denied = tmp_path / "allowed", tmp_path / "denied"
    for d in (allowed, denied):
        d.mkdir()
        (d / "f").write_text("x")
    abi = ll.abi_version()

    def body() -> dict[str, str]:
        rs = _ruleset(abi)
        rs.allow_path(str(allowed), ll.FS_ALL)
        rs.allow_path(str(allowed / "f"), ll.FS_ALL)   # a file gets file rights only
        rs.restrict_self()
        return {"read allowed": _try(lambda: (allowed / "f").read_text()),
                "write allowed": _try(lambda: (allowed / "g").write_text("y")),
                "read denied": _try(lambda: (denied / "f").read_text()),
                "list denied": _try(lambda: os.listdir(denied)),
                "write denied": _try(lambda: (denied / "g").write_text("y"))}

    assert _in_child(body) == {"read allowed": "ok", "write allowed": "ok",
                               "read denied": "PermissionError", "list denied": "PermissionError",
                               "write denied": "PermissionError"}


def test_scoping_refuses_signals_out_but_not_to_own_children() -> None:
    abi = ll.abi_version()
    outsider = os.fork()
    if outsider == 0:   # pragma: no cover - a process outside the domain
        time.sleep(30)
        os._exit(0)
    try:
        def body() -> dict[str, str]:
            _ruleset(abi).restrict_self()
            child = os.fork()
            if child == 0:   # pragma: no cover
                time.sleep(30)
                os._exit(0)
            own = _try(lambda: os.kill(child, signal.SIGKILL))
            os.waitpid(child, 0)
            return {"outsider": _try(lambda: os.kill(outsider, signal.SIGCONT)),
                    "parent": _try(lambda: os.kill(os.getppid(), 0)), "own child": own}

        assert _in_child(body) == {"outsider": "PermissionError", "parent": "PermissionError",
                                   "own child": "ok"}
    finally:
        os.kill(outsider, signal.SIGKILL)
        os.waitpid(outsider, 0)


def test_abstract_unix_sockets_outside_the_domain_are_refused() -> None:
    server = socket.socket(socket.AF_UNIX)
    name = f"\0kgate-test-{os.getpid()}"
    server.bind(name)
    server.listen(1)
    abi = ll.abi_version()

    def body() -> dict[str, str]:
        _ruleset(abi).restrict_self()
        return {"connect": _try(lambda: socket.socket(socket.AF_UNIX).connect(name))}

    try:
        assert _in_child(body) == {"connect": "PermissionError"}
    finally:
        server.close()


def test_tcp_connect_only_to_allowed_ports() -> None:
    servers = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    ok_port, other_port = (s.getsockname()[1] for s in servers)
    abi = ll.abi_version()

    def body() -> dict[str, str]:
        rs = _ruleset(abi, net=True)
        rs.allow_port(ok_port)
        rs.restrict_self()
        def connect(port: int) -> None:
            socket.create_connection(("127.0.0.1", port), 5).close()
        return {str(p): _try(functools.partial(connect, p)) for p in (ok_port, other_port)}

    try:
        assert _in_child(body) == {str(ok_port): "ok", str(other_port): "PermissionError"}
    finally:
        for s in servers:
            s.close()


@pytest.mark.timeout(60)
def test_non_root_agent_cannot_read_another_processs_environment() -> None:
    """As a non-root user (root drops to nobody first), a confined process cannot read the
    environment or open the descriptors of a same-user process outside its domain."""
    abi = ll.abi_version()

    def body() -> dict[str, str]:
        if os.getuid() == 0:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            import ctypes
            ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)   # PR_SET_DUMPABLE: setuid cleared it
        hold_r, hold_w = os.pipe()
        target = os.fork()
        if target == 0:   # pragma: no cover - the same user's unconfined process
            os.close(hold_w)
            os.read(hold_r, 1)   # until the confined side closes its end
            os._exit(0)
        os.close(hold_r)
        try:
            before = _try(lambda: open(f"/proc/{target}/environ", "rb").read())
            rs = _ruleset(abi)
            rs.allow_path("/proc", ll.FS_READ)
            rs.restrict_self()
            return {"before": before,
                    "environ": _try(lambda: open(f"/proc/{target}/environ", "rb").read()),
                    "fd": _try(lambda: open(f"/proc/{target}/fd/0", "rb").close())}
        finally:
            os.close(hold_w)   # (a confined process may not signal it: it ends by itself)
            os.waitpid(target, 0)

    assert _in_child(body) == {"before": "ok", "environ": "PermissionError",
                               "fd": "PermissionError"}
