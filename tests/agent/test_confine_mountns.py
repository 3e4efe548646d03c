"""Hiding pathname sockets in a private mount namespace, as the unprivileged user kgate runs as.

Landlock does not govern ``connect`` on a pathname UNIX socket, so the session bus and
``$XDG_RUNTIME_DIR`` are hidden by mounts. The integration tests run as whatever user CI uses
(root here, which needs no user namespace); this one drops to ``nobody`` first when it can, so the
user-namespace path is proven too.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kgate.agent import landlock as ll
from kgate.agent.mountns import available, hide


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory ``nobody`` can reach (pytest's tmp_path is private to its user)."""
    path = Path(tempfile.mkdtemp(prefix="kgate-mountns-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _listen(path: Path) -> socket.socket:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o755)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    path.chmod(0o777)
    server.listen(8)
    return server


def _try_connect(path: Path) -> str:
    try:
        socket.socket(socket.AF_UNIX).connect(str(path))
    except OSError as err:
        return type(err).__name__
    return "ok"


def test_bus_and_runtime_dir_are_hidden_from_an_unprivileged_agent(public_dir: Path) -> None:
    runtime_sock = public_dir / "run-user" / "keyring" / "control"
    bus = public_dir / "dbus" / "bus"
    servers = [_listen(runtime_sock), _listen(bus)]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # pragma: no cover - the agent-to-be
        result: dict[str, object] = {}
        try:
            if os.getuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                import ctypes
                ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)   # PR_SET_DUMPABLE: setuid cleared it
            result["uid"] = os.getuid()
            result["before"] = [_try_connect(runtime_sock), _try_connect(bus)]
            result["namespaces"] = available()
            hide([str(public_dir / "run-user")], [str(bus)])
            rs = ll.Ruleset(ll.Handled(fs=ll.fs_rights(ll.abi_version()),
                                       scoped=ll.scopes(ll.abi_version())))
            rs.restrict_self()
            result["after"] = [_try_connect(runtime_sock), _try_connect(bus)]
        except BaseException as err:  # noqa: BLE001
            result["error"] = repr(err)
        os.write(w, json.dumps(result).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    for s in servers:
        s.close()
    out: dict[str, Any] = json.loads(data)
    assert "error" not in out, out
    assert out["uid"] != 0 and out["namespaces"] is True
    assert out["before"] == ["ok", "ok"]
    hidden_dir, hidden_bus = out["after"]
    assert hidden_dir in ("PermissionError", "FileNotFoundError"), out
    assert hidden_bus == "ConnectionRefusedError", out
    # the host's view is untouched
    assert _try_connect(runtime_sock) in ("ConnectionRefusedError", "ok")
