"""``assert_no_leak``: no planted secret, in any encoding, in what the agent (or a log) saw.

Forms searched, for each secret and for each of its lines of 6+ characters: raw; base64 and
base64url at every alignment (the stable middle of the encoding, which does not depend on the
bytes around the value); lower- and upper-case hex; JSON-escaped (``\\"``, ``\\n``, ``\\u003c``…,
with and without ``ensure_ascii``); percent-encoded. Failure messages name the secret by its
index and the form, never its value (pytest prints assertion messages; a secret must not reach
a CI log).
"""

from __future__ import annotations

import base64
import json
import urllib.parse

MIN_LINE = 6


def _b64_needles(value: bytes) -> list[bytes]:
    """For each alignment, the part of the base64 of ``value`` fixed whatever surrounds it."""
    out: list[bytes] = []
    for shift in range(3):
        variants = [base64.b64encode(bytes([fill]) * shift + value + bytes([tail]) * 2)
                    for fill in (0, 255) for tail in (0, 255)]
        first = variants[0]
        start = (shift * 4 + 2) // 3 + 1 if shift else 0
        stable = [all(v[i] == first[i] for v in variants) for i in range(len(first))]
        # the longest run of stable characters from ``start``
        best = b""
        run = bytearray()
        for i in range(start, len(first)):
            if stable[i]:
                run.append(first[i])
            else:
                if len(run) > len(best):
                    best = bytes(run)
                run = bytearray()
        if len(run) > len(best):
            best = bytes(run)
        if len(best) >= 4:
            out.append(best)
    return out


def forms(secret: str) -> list[tuple[str, bytes]]:
    """(form name, bytes) for every encoding of ``secret`` and of each of its long lines."""
    values = [secret]
    if "\n" in secret:
        values += [ln.strip() for ln in secret.splitlines() if len(ln.strip()) >= MIN_LINE]
    out: list[tuple[str, bytes]] = []
    for v in values:
        raw = v.encode()
        out.append(("raw", raw))
        for needle in _b64_needles(raw):
            out.append(("base64", needle))
            out.append(("base64url", needle.replace(b"+", b"-").replace(b"/", b"_")))
        out.append(("hex", raw.hex().encode()))
        out.append(("HEX", raw.hex().upper().encode()))
        out.append(("json", json.dumps(v)[1:-1].encode()))
        out.append(("json-ascii", json.dumps(v, ensure_ascii=True)[1:-1].encode()))
        go = json.dumps(v)[1:-1].replace("<", "\\u003c").replace(">", "\\u003e") \
            .replace("&", "\\u0026")
        out.append(("json-go", go.encode()))
        out.append(("percent", urllib.parse.quote(v, safe="").encode()))
        out.append(("percent-plus", urllib.parse.quote_plus(v).encode()))
    return [(name, b) for name, b in out if len(b) >= MIN_LINE]


def leaks(text: bytes | str, secrets: list[str]) -> list[str]:
    """Descriptions (index and form, never the value) of every secret found in ``text``."""
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
    found: list[str] = []
    for i, secret in enumerate(secrets):
        for name, needle in forms(secret):
            if needle in data:
                found.append(f"secret #{i} as {name}")
                break
    return found


def assert_no_leak(text: bytes | str, secrets: list[str], where: str = "output") -> None:
    """Fail (naming index and form only) if any secret appears in ``text`` in any form."""
    __tracebackhide__ = True   # pytest would print this frame's arguments: the secrets
    found = leaks(text, secrets)
    assert not found, f"{where} leaks: {', '.join(found)}"
