"""Linux Landlock through ``ctypes``: the three system calls, the access bits, the ABI levels.

Landlock lets an unprivileged process give up rights for itself and everything it later spawns:
build a *ruleset* (which kinds of access it handles, and per path or TCP port what stays
allowed), then ``restrict_self``. Anything a handled access right covers and no rule allows is
refused with ``EACCES``/``EPERM`` by the kernel, forever, for the whole process tree.

No maintained Python binding covers ABI 6 scoping and network rules, and the interface is three
system calls with fixed structures, so they are called directly here. This module knows the
kernel's interface only; *what* the agent may touch is decided in ``kgate.agent.confine``.

The ABI levels (``landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)``):
1 filesystem (5.13) · 2 ``REFER`` (5.19) · 3 ``TRUNCATE`` (6.2) · 4 TCP bind/connect (6.7) ·
5 ``IOCTL_DEV`` (6.10) · 6 scoping of signals and abstract UNIX sockets (6.12) · 7 audit logs.
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass

# System call numbers: the same on every architecture (they were added after the tables merged).
_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1
_RULE_NET_PORT = 2
_PR_SET_NO_NEW_PRIVS = 38

# Filesystem access rights (ABI where they appeared).
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13        # ABI 2
FS_TRUNCATE = 1 << 14     # ABI 3
FS_IOCTL_DEV = 1 << 15    # ABI 5

NET_BIND_TCP = 1 << 0     # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1                # ABI 6

#: Rights that make sense on a file (not a directory) in a path-beneath rule.
FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
#: Reading and running: what system directories get.
FS_READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
#: Everything: what the working directory and the agent's own files get.
FS_ALL = (1 << 16) - 1

#: The newest ABI this module knows; a newer kernel is used at this level.
KNOWN_ABI = 7


def fs_rights(abi: int) -> int:
    """The filesystem rights a kernel of ``abi`` understands (0 without Landlock)."""
    if abi < 1:
        return 0
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def net_rights(abi: int) -> int:
    return NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0


def scopes(abi: int) -> int:
    return SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1   # __attribute__((packed)) in the kernel's header: 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


class LandlockError(OSError):
    """A Landlock system call failed (``errno`` says why)."""


_libc: ctypes.CDLL | None = None


def _syscall() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise LandlockError(err, f"{what}: {os.strerror(err)}")
    return result


def abi_version() -> int:
    """The kernel's Landlock ABI: 0 if it has none (not Linux, too old, or disabled at boot)."""
    if sys.platform != "linux":
        return 0
    libc = _syscall()
    result = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                          ctypes.c_uint32(_CREATE_RULESET_VERSION))
    if result < 0:
        return 0   # ENOSYS (not built in) or EOPNOTSUPP (built in, disabled at boot)
    return int(result)


@dataclass(frozen=True)
class Handled:
    """What a ruleset governs: anything of these kinds no rule allows is refused."""

    fs: int
    net: int = 0
    scoped: int = 0


class Ruleset:
    """An open Landlock ruleset: add rules, then ``restrict_self`` (in the process to confine).

    The descriptor is close-on-exec; the kernel never hands it to the confined program.
    """

    def __init__(self, handled: Handled) -> None:
        attr = _RulesetAttr(handled.fs, handled.net, handled.scoped)
        self.handled = handled
        self.fd = _check(_syscall().syscall(
            _SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
            ctypes.c_uint32(0)), "landlock_create_ruleset")

    def allow_path(self, path: str, access: int) -> None:
        """Allow ``access`` beneath ``path`` (a file gets only the rights a file can have)."""
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            if not os.path.isdir(f"/proc/self/fd/{fd}"):
                access &= FS_FILE_RIGHTS
            access &= self.handled.fs
            if not access:
                return
            attr = _PathBeneathAttr(access, fd)
            _check(_syscall().syscall(_SYS_ADD_RULE, ctypes.c_int(self.fd),
                                      ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(attr),
                                      ctypes.c_uint32(0)), f"landlock_add_rule({path})")
        finally:
            os.close(fd)

    def allow_port(self, port: int, access: int = NET_CONNECT_TCP) -> None:
        """Allow ``access`` (connect by default) to TCP ``port``."""
        attr = _NetPortAttr(access & self.handled.net, port)
        _check(_syscall().syscall(_SYS_ADD_RULE, ctypes.c_int(self.fd),
                                  ctypes.c_int(_RULE_NET_PORT), ctypes.byref(attr),
                                  ctypes.c_uint32(0)), f"landlock_add_rule(port {port})")

    def restrict_self(self) -> None:
        """Confine the calling thread (and all it spawns) to this ruleset; no way back.

        Sets ``no_new_privs`` first, as the kernel requires of an unprivileged caller: nothing
        the agent runs later can gain privileges through a set-uid program either.
        """
        libc = _syscall()
        _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        _check(libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(self.fd), ctypes.c_uint32(0)),
               "landlock_restrict_self")

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


__all__ = ["FS_ALL", "FS_READ", "Handled", "LandlockError", "Ruleset", "abi_version",
           "fs_rights", "net_rights", "scopes"]
