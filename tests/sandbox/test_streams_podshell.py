"""The built-in pod shell on its own: quoting, expansion, lists, pipelines and exit codes."""

from __future__ import annotations

import asyncio

import pytest

from kgate.sandbox.podshell import Input, PodView, Process, run_command

VIEW = PodView(files={"/etc/hostname": b"web\n", "/etc/secret/token": b"abc\n"},
               env={"PATH": "/bin", "HOSTNAME": "web", "NAME": "world"}, hostname="web")


def run(argv: list[str], stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    out: list[bytes] = []
    err: list[bytes] = []

    async def go() -> int:
        async def w_out(data: bytes) -> None:
            out.append(data)

        async def w_err(data: bytes) -> None:
            err.append(data)

        return await run_command(Process(VIEW, Input.of(stdin), w_out, w_err), argv)

    code = asyncio.run(go())
    return code, b"".join(out), b"".join(err)


@pytest.mark.parametrize(("script", "code", "out"), [
    ("echo hello $NAME", 0, b"hello world\n"),
    ("echo 'single $NAME' \"double ${NAME}\" esc\\$NAME", 0,
     b"single $NAME double world esc$NAME\n"),
    ("false; echo $?", 0, b"1\n"),
    ("true && echo yes || echo no", 0, b"yes\n"),
    ("false && echo yes || echo no", 0, b"no\n"),
    ("cat /etc/secret/token | wc -c", 0, b"4\n"),
    ("ls /etc", 0, b"hostname\nsecret\n"),
    ("echo a; exit 7; echo b", 7, b"a\n"),
    ("nosuch", 127, b""),
    ("echo -n x", 0, b"x"),
    ("printf x", 127, b""),
])
def test_scripts(script: str, code: int, out: bytes) -> None:
    got_code, got_out, _ = run(["sh", "-c", script])
    assert (got_code, got_out) == (code, out)


def test_stdin_and_filters() -> None:
    assert run(["cat"], b"hi\n")[1] == b"hi\n"
    assert run(["head", "-n", "1"], b"a\nb\n")[1] == b"a\n"
    assert run(["grep", "-c", "b"], b"a\nb\nbb\n")[1] == b"2\n"
    assert run(["sh"], b"echo one\necho $HOSTNAME\n")[1] == b"one\nweb\n"


def test_errors() -> None:
    code, _, err = run(["/usr/bin/nosuch"])
    assert code == 127 and b"executable file not found in $PATH" in err
    assert run(["sh", "-c", "echo 'open"])[0] == 2
    assert run(["cat", "/etc"])[0] == 1
    assert run(["printenv", "MISSING"])[0] == 1
