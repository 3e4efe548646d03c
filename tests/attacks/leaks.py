"""Leak assertions for attack tests: a planted secret must not appear in *any* form.

``encodings(secret)`` lists the byte strings that would give the secret away: raw, base64 at every
alignment (the value embedded at offset 0, 1 or 2 of a larger base64 text), base64url, hex
(lower and upper case), JSON-escaped and percent-escaped. ``assert_no_leak`` searches data for
all of them and, on failure, names the secret's index and the encoding — never the secret itself,
so a failing test does not print what it was guarding.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from urllib.parse import quote

#: Base64 of a fragment shorter than this is too short to tell anything (and matches noise).
_MIN_B64 = 8


def _b64_alignments(raw: bytes, encode: object) -> list[bytes]:
    """The stable inner part of ``raw``'s base64 when it starts at offset 0, 1 or 2 of a larger
    text: characters that depend only on ``raw`` (not on its neighbours)."""
    assert callable(encode)
    found: list[bytes] = []
    for shift in range(3):
        text = encode(b"\0" * shift + raw)
        # Leading chars mix in the padding bytes, trailing ones the bytes that follow.
        head = (shift * 8 + 5) // 6 if shift else 0
        tail = len(raw) + shift
        stable_end = (tail * 8) // 6
        part = bytes(text[head:stable_end])
        if len(part) >= _MIN_B64:
            found.append(part)
    return found


def encodings(secret: str | bytes) -> list[tuple[str, bytes]]:
    """(name, bytes) for every form of ``secret`` an attack test searches for."""
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    text = raw.decode("utf-8", "surrogateescape")
    forms: list[tuple[str, bytes]] = [("raw", raw)]
    forms += [("base64", p) for p in _b64_alignments(raw, base64.b64encode)]
    forms += [("base64url", p) for p in _b64_alignments(raw, base64.urlsafe_b64encode)]
    forms += [("hex", binascii.hexlify(raw)), ("HEX", binascii.hexlify(raw).upper())]
    for ascii_only in (False, True):
        escaped = json.dumps(text, ensure_ascii=ascii_only)[1:-1]
        forms.append(("json", escaped.encode("utf-8", "surrogateescape")))
        forms.append(("json", escaped.replace("/", "\\/").encode("utf-8", "surrogateescape")))
    forms.append(("percent", quote(raw, safe="").encode()))
    seen: set[bytes] = set()
    unique: list[tuple[str, bytes]] = []
    for name, form in forms:
        if form and form not in seen:
            seen.add(form)
            unique.append((name, form))
    return unique


def find_leaks(data: bytes | str, secrets: Sequence[str | bytes]) -> list[str]:
    """Descriptions (index and encoding, no value) of every secret found in ``data``."""
    blob = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
    folded = blob.lower()
    found: list[str] = []
    for index, secret in enumerate(secrets):
        for name, form in encodings(secret):
            # hex digits and %XX escapes may come in either case
            loose = name in ("hex", "HEX") or (name == "percent" and b"%" in form)
            hit = form in blob or (loose and form.lower() in folded)
            if hit:
                found.append(f"secret #{index} ({len(secret)} chars) as {name}")
                break
    return found


def assert_no_leak(data: bytes | str, secrets: Iterable[str | bytes], where: str = "") -> None:
    """Fail, naming only indexes and encodings, if any secret appears in ``data``."""
    __tracebackhide__ = True  # pytest would otherwise print this frame's arguments: the secrets
    leaks = find_leaks(data, list(secrets))
    if leaks:
        place = f" in {where}" if where else ""
        raise AssertionError(f"planted secret(s) leaked{place}: " + "; ".join(leaks))
