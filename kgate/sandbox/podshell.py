"""A tiny command interpreter that plays a container's userland for ``kubectl exec``.

The sandbox has no containers, yet tests and the demo need ``kubectl exec pod -- cat
/etc/secret/password`` to behave: stdout, stderr, stdin and exit codes must reach kubectl like
from a real runtime. So a pod gets a *view* — a read-only file tree built from its spec (Secret
and ConfigMap volumes mounted at their ``mountPath``, resolved through the server's ``lookup``,
plus ``/etc/hostname``) and an environment (container ``env``/``envFrom`` resolved the same way,
plus ``HOSTNAME``, ``PATH``, ``HOME``) — and a handful of built-ins run against it:

``echo [-n]``, ``cat [FILE…]`` (stdin when no file), ``env``, ``printenv [NAME…]``, ``hostname``,
``ls [PATH…]``, ``pwd``, ``true``, ``false``, ``exit N``, ``sleep N``, ``wc [-l|-w|-c]``,
``head [-n N]``, ``grep [-v] [-i] [-c] PATTERN [FILE…]``, and ``sh|bash -c SCRIPT`` (or ``sh``
reading a script from stdin) with ``;``, ``&&``, ``||``, ``|`` pipelines, quotes and ``$VAR``
/ ``${VAR}`` / ``$?`` expansion. An unknown program fails like an OCI runtime would (exit 127).

Nothing here does network I/O: the caller supplies an ``Input`` for stdin and async writers for
stdout and stderr. The pieces: ``podview`` builds the view and streams, ``shellsyntax`` parses
words and operators, ``coreutils`` holds the built-ins; this module is the interpreter (``sh``,
``;``/``&&``/``||`` lists, ``|`` pipelines) and ``run_command``, exec's entry point.
"""

from __future__ import annotations

from kgate.sandbox.coreutils import COREUTILS, MAX_SLEEP, Builtin, ExitShell
from kgate.sandbox.podview import (
    DEFAULT_PATH,
    Input,
    Lookup,
    PodView,
    Process,
    Writer,
    build_view,
    find_container,
)
from kgate.sandbox.shellsyntax import Word, expand, tokenize

# The view, syntax and built-ins live in podview, shellsyntax and coreutils; streams.py and the
# tests import these names from here.
__all__ = ["BUILTINS", "DEFAULT_PATH", "MAX_SLEEP", "Builtin", "ExitShell", "Input", "Lookup",
           "PodView", "Process", "Writer", "build_view", "expand", "find_container",
           "run_command", "run_script", "tokenize"]


async def _sh(p: Process, args: list[str]) -> int:
    if args and args[0] == "-c":
        if len(args) < 2:
            await p.stderr(b"sh: -c requires an argument\n")
            return 2
        return await run_script(p, args[1])
    if args:
        await p.stderr(f"sh: can't open '{args[0]}': No such file or directory\n".encode())
        return 2
    status, pending = 0, b""
    while chunk := await p.stdin.read():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            status = await run_script(p, line.decode(errors="replace"), status)
    if pending.strip():
        status = await run_script(p, pending.decode(errors="replace"), status)
    return status


BUILTINS: dict[str, Builtin] = {**COREUTILS, "sh": _sh, "bash": _sh}


def _program(name: str) -> Builtin | None:
    base = name.rsplit("/", 1)[-1] if name.startswith(("/bin/", "/usr/bin/")) else name
    return BUILTINS.get(base)


async def run_script(p: Process, script: str, status: int = 0) -> int:
    """Run a shell script (``;``/``&&``/``||`` lists of ``|`` pipelines); return its status."""
    try:
        tokens = tokenize(script)
    except SyntaxError as e:
        await p.stderr(f"sh: syntax error: {e}\n".encode())
        return 2
    try:
        return await _run_list(p, tokens, status)
    except ExitShell as e:
        return e.code


async def _run_list(p: Process, tokens: list[Word | str], status: int) -> int:
    pipeline: list[list[Word]] = [[]]
    connector = ";"
    for token in [*tokens, ";"]:
        if isinstance(token, list):
            pipeline[-1].append(token)
            continue
        if token == "|":
            pipeline.append([])
            continue
        if any(pipeline):
            if any(not cmd for cmd in pipeline):
                await p.stderr(f"sh: syntax error: unexpected '{token}'\n".encode())
                return 2
            if connector == ";" or (connector == "&&") == (status == 0):
                status = await _run_pipeline(p, pipeline, status)
        pipeline = [[]]
        connector = token
    return status


async def _run_pipeline(p: Process, pipeline: list[list[Word]], status: int) -> int:
    stdin = p.stdin
    for i, words in enumerate(pipeline):
        argv = [expand(w, p.view.env, status) for w in words]
        last = i == len(pipeline) - 1
        if last:
            stage = Process(p.view, stdin, p.stdout, p.stderr)
            return await _run_in_shell(stage, argv)
        chunks: list[bytes] = []

        async def collect(data: bytes, sink: list[bytes] = chunks) -> None:
            sink.append(data)

        try:
            await _run_in_shell(Process(p.view, stdin, collect, p.stderr), argv)
        except ExitShell:
            pass
        stdin = Input.of(b"".join(chunks))
    return status


async def _run_in_shell(p: Process, argv: list[str]) -> int:
    program = _program(argv[0])
    if program is None:
        await p.stderr(f"sh: {argv[0]}: not found\n".encode())
        return 127
    return await program(p, argv[1:])


async def run_command(p: Process, argv: list[str]) -> int:
    """Run an exec'd command line (no shell: argv as the runtime would get it)."""
    if not argv:
        await p.stderr(b"OCI runtime exec failed: exec failed: no command specified: unknown\n")
        return 126
    program = _program(argv[0])
    if program is None:
        await p.stderr(
            f"OCI runtime exec failed: exec failed: unable to start container process: exec: "
            f"\"{argv[0]}\": executable file not found in $PATH: unknown\n".encode())
        return 127
    try:
        return await program(p, argv[1:])
    except ExitShell as e:
        return e.code
