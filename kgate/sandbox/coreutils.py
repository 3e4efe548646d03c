"""The programs a sandbox pod has: ``echo``, ``cat``, ``env``, ``ls``, ``grep`` and friends.

Each built-in takes a ``Process`` and its arguments and returns an exit status, writing and
reading only through the process's streams and its pod view, with the messages and exit codes
of GNU coreutils/busybox so scripts and agents see what a real container would show. ``sh`` is
not here: it is the interpreter in ``podshell``, which adds itself to this table.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from kgate.sandbox.podview import Process

MAX_SLEEP = 3600.0

Builtin = Callable[[Process, list[str]], Awaitable[int]]


def _resolve(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts)


async def _echo(p: Process, args: list[str]) -> int:
    newline = True
    if args and args[0] == "-n":
        newline, args = False, args[1:]
    await p.stdout((" ".join(args) + ("\n" if newline else "")).encode())
    return 0


async def _read_inputs(p: Process, name: str, files: list[str]) -> tuple[list[bytes], int]:
    """Contents of ``files`` (stdin for none or ``-``), plus 1 if any was missing."""
    if not files:
        return [await p.stdin.read_all()], 0
    out, status = [], 0
    for f in files:
        if f == "-":
            out.append(await p.stdin.read_all())
            continue
        path = _resolve(f)
        if path in p.view.files:
            out.append(p.view.files[path])
        elif path in p.view.dirs:
            await p.stderr(f"{name}: {f}: Is a directory\n".encode())
            status = 1
        else:
            await p.stderr(f"{name}: {f}: No such file or directory\n".encode())
            status = 1
    return out, status


async def _cat(p: Process, args: list[str]) -> int:
    if not args:
        while chunk := await p.stdin.read():
            await p.stdout(chunk)
        return 0
    contents, status = await _read_inputs(p, "cat", args)
    for data in contents:
        await p.stdout(data)
    return status


async def _env(p: Process, args: list[str]) -> int:
    if args:
        await p.stderr(b"env: running commands is not supported in the kgate sandbox\n")
        return 125
    await p.stdout("".join(f"{k}={v}\n" for k, v in p.view.env.items()).encode())
    return 0


async def _printenv(p: Process, args: list[str]) -> int:
    if not args:
        return await _env(p, [])
    status = 0
    for name in args:
        if name in p.view.env:
            await p.stdout(f"{p.view.env[name]}\n".encode())
        else:
            status = 1
    return status


async def _hostname(p: Process, _args: list[str]) -> int:
    await p.stdout(f"{p.view.hostname}\n".encode())
    return 0


async def _pwd(p: Process, _args: list[str]) -> int:
    await p.stdout(b"/\n")
    return 0


async def _ls(p: Process, args: list[str]) -> int:
    paths = [a for a in args if not a.startswith("-")] or ["/"]
    status = 0
    for i, arg in enumerate(paths):
        path = _resolve(arg)
        if path in p.view.files:
            await p.stdout(f"{arg}\n".encode())
            continue
        if path not in p.view.dirs:
            await p.stderr(f"ls: cannot access '{arg}': No such file or directory\n".encode())
            status = 2
            continue
        prefix = path.rstrip("/") + "/"
        names = sorted({q[len(prefix):].split("/")[0] for q in [*p.view.files, *p.view.dirs]
                        if q.startswith(prefix) and q != prefix})
        header = f"{arg}:\n" if len(paths) > 1 else ""
        sep = "\n" if len(paths) > 1 and i < len(paths) - 1 else ""
        await p.stdout((header + "".join(f"{n}\n" for n in names) + sep).encode())
    return status


async def _true(_p: Process, _args: list[str]) -> int:
    return 0


async def _false(_p: Process, _args: list[str]) -> int:
    return 1


async def _sleep(p: Process, args: list[str]) -> int:
    try:
        seconds = float(args[0].rstrip("s")) if args else -1.0
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        await p.stderr(b"sleep: invalid time interval\n")
        return 1
    await asyncio.sleep(min(seconds, MAX_SLEEP))
    return 0


async def _wc(p: Process, args: list[str]) -> int:
    flags = [a for a in args if a.startswith("-")]
    contents, status = await _read_inputs(p, "wc", [a for a in args if not a.startswith("-")])
    data = b"".join(contents)
    counts = {"-l": data.count(b"\n"), "-w": len(data.split()), "-c": len(data)}
    chosen = [counts[f] for f in flags if f in counts] or list(counts.values())
    await p.stdout((" ".join(str(c) for c in chosen) + "\n").encode())
    return status


async def _head(p: Process, args: list[str]) -> int:
    count, files, i = 10, [], 0
    while i < len(args):
        a = args[i]
        if a == "-n" and i + 1 < len(args):
            count, i = int(args[i + 1]) if args[i + 1].isdigit() else 10, i + 2
            continue
        if a.startswith("-") and a[1:].isdigit():
            count = int(a[1:])
        else:
            files.append(a)
        i += 1
    contents, status = await _read_inputs(p, "head", files)
    for data in contents:
        await p.stdout(b"".join(data.splitlines(keepends=True)[:count]))
    return status


async def _grep(p: Process, args: list[str]) -> int:
    opts = {a for a in args if a.startswith("-") and len(a) > 1}
    rest = [a for a in args if not (a.startswith("-") and len(a) > 1)]
    if not rest:
        await p.stderr(b"Usage: grep [OPTION]... PATTERNS [FILE]...\n")
        return 2
    flags = re.IGNORECASE if any("i" in o for o in opts) else 0
    try:
        pattern = re.compile(rest[0].encode(), flags)
    except re.error:
        pattern = re.compile(re.escape(rest[0].encode()), flags)
    invert = any("v" in o for o in opts)
    contents, status = await _read_inputs(p, "grep", rest[1:])
    hits = [line for data in contents for line in data.splitlines(keepends=True)
            if bool(pattern.search(line)) != invert]
    if any("c" in o for o in opts):
        await p.stdout(f"{len(hits)}\n".encode())
    else:
        await p.stdout(b"".join(h if h.endswith(b"\n") else h + b"\n" for h in hits))
    return 2 if status else (0 if hits else 1)


class ExitShell(Exception):
    """``exit N`` inside a script: unwind to the shell that runs it."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


async def _exit(_p: Process, args: list[str]) -> int:
    try:
        code = int(args[0]) if args else 0
    except ValueError:
        code = 2
    raise ExitShell(code & 0xFF)


COREUTILS: dict[str, Builtin] = {
    "echo": _echo, "cat": _cat, "env": _env, "printenv": _printenv, "hostname": _hostname,
    "pwd": _pwd, "ls": _ls, "true": _true, "false": _false, "sleep": _sleep, "wc": _wc,
    "head": _head, "grep": _grep, "exit": _exit,
}
