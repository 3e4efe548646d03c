"""Leak assertions for attack tests: a planted secret must not appear in *any* form.

``forms(secret)`` lists the byte strings that would give a secret (or one long line of a
multi-line secret) away: raw, base64 and base64url at every alignment (only the characters that
depend on the secret alone), hex in either case, JSON-escaped (plain, ASCII-only, Go's HTML-safe
escapes) and percent-escaped. ``assert_no_leak`` searches data for all of them and, on failure,
names the secret's index and the form — never the secret, so a failing test does not print what
it was guarding.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterable, Sequence

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


def forms(secret: str | bytes) -> list[tuple[str, bytes]]:
    """(form name, bytes) for every encoding of ``secret`` and of each of its long lines."""
    if isinstance(secret, bytes):
        secret = secret.decode("utf-8", "surrogateescape")
    values = [secret]
    if "\n" in secret:
        values += [ln.strip() for ln in secret.splitlines() if len(ln.strip()) >= MIN_LINE]
    out: list[tuple[str, bytes]] = []
    for v in values:
        raw = v.encode("utf-8", "surrogateescape")
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
        out.append(("percent", urllib.parse.quote(raw, safe="").encode()))
        out.append(("percent-plus", urllib.parse.quote_plus(raw).encode()))
    return [(name, b) for name, b in out if len(b) >= MIN_LINE]


def leaks(text: bytes | str, secrets: Sequence[str | bytes]) -> list[str]:
    """Descriptions (index and form, never the value) of every secret found in ``text``."""
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
    folded = data.lower()
    found: list[str] = []
    for i, secret in enumerate(secrets):
        for name, needle in forms(secret):
            # hex digits and %XX escapes may come in either case
            loose = name in ("hex", "HEX") or (name.startswith("percent") and b"%" in needle)
            if needle in data or (loose and needle.lower() in folded):
                found.append(f"secret #{i} as {name}")
                break
    return found



def assert_no_leak(text: bytes | str, secrets: Iterable[str | bytes], where: str = "output"
                   ) -> None:
    """Fail (naming index and form only) if any secret appears in ``text`` in any form."""
    __tracebackhide__ = True   # pytest would print this frame's arguments: the secrets
    found = leaks(text, list(secrets))
    assert not found, f"{where} leaks: {', '.join(found)}"
