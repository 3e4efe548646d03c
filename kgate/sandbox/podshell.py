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
stdout and stderr.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Lookup = Callable[[str, str, str], dict[str, Any] | None]
Writer = Callable[[bytes], Awaitable[None]]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_SLEEP = 3600.0


class Input:
    """A stdin stream: ``read()`` returns the next chunk, ``b""`` at end of input."""

    def __init__(self, queue: asyncio.Queue[bytes] | None = None, data: bytes = b"") -> None:
        self._queue = queue
        self._data = data
        self._eof = queue is None and not data

    @classmethod
    def of(cls, data: bytes) -> Input:
        """A finished input holding ``data`` (used between pipeline stages)."""
        return cls(data=data)

    async def read(self) -> bytes:
        """Next chunk of input; ``b""`` once the writer has closed it."""
        if self._data:
            chunk, self._data = self._data, b""
            if self._queue is None:
                self._eof = True
            return chunk
        if self._eof or self._queue is None:
            return b""
        chunk = await self._queue.get()
        if not chunk:
            self._eof = True
        return chunk

    async def read_all(self) -> bytes:
        """Everything up to end of input."""
        parts = []
        while chunk := await self.read():
            parts.append(chunk)
        return b"".join(parts)


@dataclass
class PodView:
    """What a process in one container of the pod sees: files and environment."""

    files: dict[str, bytes]
    env: dict[str, str]
    hostname: str
    dirs: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for path in self.files:
            parts = path.strip("/").split("/")[:-1]
            for i in range(len(parts) + 1):
                self.dirs.add("/" + "/".join(parts[:i]))


def _decode_b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=False)
    except ValueError:
        return b""


def _source_data(lookup: Lookup, plural: str, namespace: str, name: str) -> dict[str, bytes]:
    """Key -> bytes of a Secret (``data``/``stringData``) or ConfigMap (``data``/``binaryData``)."""
    obj = lookup(plural, namespace, name) if name else None
    if not obj:
        return {}
    out: dict[str, bytes] = {}
    if plural == "secrets":
        out.update({k: _decode_b64(v) for k, v in (obj.get("data") or {}).items()})
        out.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    else:
        out.update({k: _decode_b64(v) for k, v in (obj.get("binaryData") or {}).items()})
        out.update({k: str(v).encode() for k, v in (obj.get("data") or {}).items()})
    return out


def find_container(pod: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    """The named container (or init container), or the first one when ``name`` is empty."""
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    if not name:
        return containers[0] if containers else None
    return next((c for c in containers if c.get("name") == name), None)


def build_view(pod: dict[str, Any], container: dict[str, Any], lookup: Lookup) -> PodView:
    """Resolve the container's mounts and environment against the server's objects."""
    meta = pod.get("metadata") or {}
    namespace, pod_name = meta.get("namespace", "default"), meta.get("name", "")
    hostname = (pod.get("spec") or {}).get("hostname") or pod_name
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    files: dict[str, bytes] = {"/etc/hostname": f"{hostname}\n".encode()}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name")) or {}
        if "secret" in volume:
            src = volume["secret"] or {}
            data = _source_data(lookup, "secrets", namespace, src.get("secretName", ""))
        elif "configMap" in volume:
            src = volume["configMap"] or {}
            data = _source_data(lookup, "configmaps", namespace, src.get("name", ""))
        else:
            continue
        items = src.get("items")
        mapping = {i["key"]: i.get("path", i["key"]) for i in items} if items else \
            {k: k for k in data}
        base = str(mount.get("mountPath", "/")).rstrip("/")
        sub = str(mount.get("subPath") or "")
        for key, rel in mapping.items():
            if key not in data:
                continue
            if sub:
                if rel == sub:
                    files[base or "/"] = data[key]
                continue
            files[f"{base}/{rel}"] = data[key]
    return PodView(files=files, env=_environment(pod, container, lookup, hostname),
                   hostname=hostname)


def _environment(pod: dict[str, Any], container: dict[str, Any], lookup: Lookup,
                 hostname: str) -> dict[str, str]:
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace", "default")
    env: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for key, plural in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
            if key in source:
                data = _source_data(lookup, plural, namespace, source[key].get("name", ""))
                env.update({prefix + k: v.decode(errors="replace") for k, v in data.items()})
    fields = {"metadata.name": meta.get("name", ""), "metadata.namespace": namespace,
              "spec.nodeName": (pod.get("spec") or {}).get("nodeName", ""),
              "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", ""),
              "status.podIP": (pod.get("status") or {}).get("podIP", "")}
    for var in container.get("env") or []:
        name = var.get("name", "")
        if "value" in var or "valueFrom" not in var:
            env[name] = str(var.get("value", ""))
            continue
        src = var["valueFrom"] or {}
        for key, plural in (("secretKeyRef", "secrets"), ("configMapKeyRef", "configmaps")):
            if key in src:
                ref = src[key]
                data = _source_data(lookup, plural, namespace, ref.get("name", ""))
                if ref.get("key") in data:
                    env[name] = data[ref["key"]].decode(errors="replace")
        if "fieldRef" in src:
            env[name] = str(fields.get(src["fieldRef"].get("fieldPath", ""), ""))
    env.setdefault("HOME", "/root")
    return env


# --- shell syntax -------------------------------------------------------------------------

Word = list[tuple[str, bool]]   # (text, expandable) segments; single-quoted text is literal
_OPERATORS = ("&&", "||", "|", ";")


def tokenize(script: str) -> list[Word | str]:
    """Split a script into words and operators (``;``, ``&&``, ``||``, ``|``, newline)."""
    tokens: list[Word | str] = []
    word: Word = []
    buf: list[str] = []
    in_word = False
    i, n = 0, len(script)

    def flush_buf(expand: bool) -> None:
        if buf:
            word.append(("".join(buf), expand))
            buf.clear()

    def end_word() -> None:
        nonlocal word, in_word
        flush_buf(True)
        if in_word:
            tokens.append(word)
        word, in_word = [], False

    while i < n:
        ch = script[i]
        if ch in " \t":
            end_word()
            i += 1
        elif ch == "\n":
            end_word()
            tokens.append(";")
            i += 1
        elif ch == "#" and not in_word:
            while i < n and script[i] != "\n":
                i += 1
        elif script.startswith(("&&", "||"), i):
            end_word()
            tokens.append(script[i:i + 2])
            i += 2
        elif ch in "|;":
            end_word()
            tokens.append(ch)
            i += 1
        elif ch == "'":
            end = script.find("'", i + 1)
            if end < 0:
                raise SyntaxError("unterminated quoted string")
            flush_buf(True)
            word.append((script[i + 1:end], False))
            in_word = True
            i = end + 1
        elif ch == '"':
            flush_buf(True)
            i += 1
            while i < n and script[i] != '"':
                if script[i] == "\\" and i + 1 < n and script[i + 1] in '"\\$`':
                    buf.append("\\" + script[i + 1] if script[i + 1] == "$" else script[i + 1])
                    i += 2
                else:
                    buf.append(script[i])
                    i += 1
            if i >= n:
                raise SyntaxError("unterminated quoted string")
            flush_buf(True)
            word.append(("", False))
            in_word = True
            i += 1
        elif ch == "\\" and i + 1 < n:
            flush_buf(True)
            word.append((script[i + 1], False))
            in_word = True
            i += 2
        else:
            buf.append(ch)
            in_word = True
            i += 1
    end_word()
    return tokens


_VAR = re.compile(r"\\\$|\$(\?|[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})")


def expand(word: Word, env: dict[str, str], status: int) -> str:
    """Join a word's segments, expanding ``$VAR``, ``${VAR}`` and ``$?`` where allowed."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "\\$":
            return "$"
        name = m.group(1).strip("{}")
        return str(status) if name == "?" else env.get(name, "")

    return "".join(_VAR.sub(sub, text) if expandable else text for text, expandable in word)


# --- execution ----------------------------------------------------------------------------

@dataclass
class Process:
    """One running command: its view of the pod and its three standard streams."""

    view: PodView
    stdin: Input
    stdout: Writer
    stderr: Writer


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


BUILTINS: dict[str, Builtin] = {
    "echo": _echo, "cat": _cat, "env": _env, "printenv": _printenv, "hostname": _hostname,
    "pwd": _pwd, "ls": _ls, "true": _true, "false": _false, "sleep": _sleep, "wc": _wc,
    "head": _head, "grep": _grep, "exit": _exit, "sh": _sh, "bash": _sh,
}


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
