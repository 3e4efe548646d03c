"""Shell syntax for the pod shell: words, quotes, operators and ``$VAR`` expansion.

Enough of POSIX ``sh`` for what agents type into ``kubectl exec … -- sh -c``: ``;``, newline,
``&&``, ``||`` and ``|`` between words; single quotes (literal), double quotes and backslashes;
``#`` comments; ``$VAR``, ``${VAR}`` and ``$?``. A word keeps which of its segments may be
expanded, because expansion happens at run time with the then-current status. Pure functions.
"""

from __future__ import annotations

import re

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
