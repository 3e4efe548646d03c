"""Hide pathname UNIX sockets from the agent with a private mount namespace.

Landlock (up to ABI 7) does not govern ``connect`` to a *pathname* UNIX socket: denying read on
``/run/user/UID`` does not stop ``connect("/run/user/UID/bus")``. The D-Bus session bus is the
keyring's door, so it is hidden instead: in the agent's own mount namespace an empty, read-only
``tmpfs`` covers ``$XDG_RUNTIME_DIR`` and ``/dev/null`` covers any other bus socket. Nothing
changes for the rest of the system.

An unprivileged user needs a user namespace for that (as bubblewrap does); it maps the user's
own uid and gid only, so the agent keeps exactly its rights. The agent cannot undo the mounts:
Landlock, applied right after, forbids ``mount``/``umount`` to a confined process, and after
``exec`` a non-root agent holds no capability in the namespace anyway.

Runs in the forked child between ``fork`` and ``exec``: system calls only, no imports.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    _check(_libc.mount(source.encode() if source else None, target.encode(),
                       fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                       data.encode() if data else None), f"mount {target}")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def hide(dirs: Sequence[str], sockets: Sequence[str]) -> None:
    """Enter a private mount namespace where ``dirs`` are empty and ``sockets`` are not."""
    uid, gid = os.getuid(), os.getgid()
    user_ns = os.geteuid() != 0
    _check(_libc.unshare(_CLONE_NEWNS | (_CLONE_NEWUSER if user_ns else 0)),
           "unshare (user namespaces may be disabled here)")
    if user_ns:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)   # nothing leaks back to the host
    for path in dirs:
        _mount("kgate-hidden", path, "tmpfs",
               _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, "mode=000,size=4k")
    for path in sockets:
        _mount("/dev/null", path, None, _MS_BIND)


def available() -> bool:
    """Can this process make the namespace? (Tried in a throw-away child: for ``doctor``.)"""
    pid = os.fork()
    if pid == 0:   # pragma: no cover - the child
        ok = False
        try:
            user_ns = os.geteuid() != 0
            ok = _libc.unshare(_CLONE_NEWNS | (_CLONE_NEWUSER if user_ns else 0)) == 0
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0
