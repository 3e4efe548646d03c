"""What a held write would change: a masked unified diff from a server-side dry run.

For update, patch, apply and scale the proxy reads the current object and sends the very same
request with ``dryRun=All`` (with the broker's credential: the API server computes the result,
defaults and admission included, and stores nothing). A delete shows the current object going
away and is never sent early: kube-apiserver ignores ``dryRun`` in the query of a DELETE that
carries a body. Both objects are masked with the
session's masker before anything is compared, so the human sees placeholders, never values;
equal values mask equally, so an unchanged secret shows no change. The I/O is the caller's
(``fetch``); this module only decides what to ask and how to show it.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import yaml

#: (method, path_qs, body) → (HTTP status, body bytes); JSON replies, broker's credential.
Fetch = Callable[[str, str, bytes | None], Awaitable[tuple[int, bytes]]]
#: JSON bytes → masked JSON bytes (the session's masker).
Mask = Callable[[bytes], bytes]

DIFF_VERBS = frozenset({"update", "patch", "delete"})
_NOISE = ("resourceVersion", "managedFields", "generation", "uid", "creationTimestamp")
MAX_DIFF = 64 * 1024


def wants_diff(verb: str) -> bool:
    return verb in DIFF_VERBS


def _with_dry_run(path_qs: str) -> str:
    return path_qs + ("&" if "?" in path_qs else "?") + "dryRun=All"


def _yaml(masked: bytes) -> list[str]:
    doc: Any = orjson.loads(masked)
    if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict):
        meta = dict(doc["metadata"])
        for key in _NOISE:
            meta.pop(key, None)
        doc = {**doc, "metadata": meta}
    text = yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, allow_unicode=True)
    return text.splitlines(keepends=True)


def _status_message(masked: bytes) -> str:
    try:
        doc = orjson.loads(masked)
    except orjson.JSONDecodeError:
        return ""
    return str(doc.get("message", "")) if isinstance(doc, dict) else ""


async def dry_run_diff(fetch: Fetch, mask: Mask, method: str, path_qs: str, verb: str,
                       body: bytes | None) -> str:
    """The masked unified diff (current → after the request), or a line saying why none."""
    object_path = path_qs.split("?", 1)[0]
    status, current = await fetch("GET", object_path, None)
    if status != 200:
        return f"(no diff: the current object could not be read, HTTP {status})\n"
    before = _yaml(mask(current))
    if verb == "delete":
        # No dry run: kube-apiserver ignores the dryRun query parameter of a DELETE that has a
        # body (kubectl always sends DeleteOptions), so "dry-running" it would really delete.
        return _unified(before, [], object_path, verb)
    status, result = await fetch(method, _with_dry_run(path_qs), body)
    masked = mask(result) if result else b""
    if status >= 400:
        return (f"(no diff: the dry run was refused, HTTP {status}: "
                f"{_status_message(masked)[:500]})\n")
    return _unified(before, _yaml(masked), object_path, verb)


def _unified(before: list[str], after: list[str], object_path: str, verb: str) -> str:
    lines = difflib.unified_diff(before, after, fromfile=f"{object_path} (current)",
                                 tofile=f"{object_path} (after {verb})")
    text = "".join(lines) or "(no change)\n"
    if len(text) > MAX_DIFF:
        text = text[:MAX_DIFF] + "\n… (diff truncated)\n"
    return text
