"""JSON-patch operations that make the API server read for the agent (rule ``no-secret-copy``).

A JSON patch (``application/json-patch+json``) is applied by the API server, on the real object.
Three of its operations *read* a value there: ``copy`` and ``move`` read ``from`` and write it
somewhere else, and ``test`` compares ``path`` with a value the agent supplies. So a patch can
make the server the agent's accomplice: ``copy`` ``/data/password`` of a Secret into an annotation,
a label, ``/type`` or ``/metadata/name`` and read it back from the reply or from the validation
error that quotes it (``--dry-run=server`` is enough, nothing is written), or ``test`` guesses of a
value until one is accepted. Masking the reply cannot fix this: the value may come back in any
field, in any error text, or as a single bit (test passed or failed).

The rule: a ``copy``/``move`` ``from`` and a ``test`` ``path`` must name a field on a short list of
fields that are structurally harmless — names, uid, resourceVersion, generation, replicas, image
references: fields whose value the agent sees unmasked anyway. Everything else is refused with 403,
whatever the kind and whatever ``dryRun`` says. A deny-list of sensitive paths (Secret ``data``,
env values, annotations, probe headers, keys named like passwords …) would not be sound: a ``from``
that names a parent (``/metadata``, ``/data``, ``/spec``, ``""``) copies every sensitive field below
it, and a custom resource can keep a secret under any key. The cost is small: kubectl never sends
these operations, and an ``add``/``replace`` writes any value the agent can actually see.

``patch_reads`` is a pure function of the parsed body; ``kgate.proxy.facts`` turns its answer into
a fact and the ``no-secret-copy`` guardrail (``kgate.policy.guardrails``) refuses on it, so
``kgate policy eval`` explains it like every other refusal.
"""

from __future__ import annotations

from typing import Any

RULE = "no-secret-copy"
JSON_PATCH = "application/json-patch+json"
#: The operations that read a value on the server, and the member naming what they read.
_READS = {"copy": "from", "move": "from", "test": "path"}
_ANY = "*"
_INDEX = "#"
#: Fields whose value the agent sees unmasked anyway (``#`` is a list index, ``*`` any key).
_HARMLESS: tuple[tuple[str, ...], ...] = (
    *(("metadata", f) for f in ("name", "generateName", "namespace", "uid", "resourceVersion",
                                "generation", "creationTimestamp")),
    ("spec", "replicas"),
    *((*base, kind, _INDEX, "image")
      for base in ((), ("spec",), ("spec", "template", "spec"),
                   ("spec", "jobTemplate", "spec", "template", "spec"))
      for kind in ("containers", "initContainers")),
)


def parse_pointer(pointer: str) -> list[str] | None:
    """RFC 6901 reference tokens of ``pointer``; ``None`` if it is not a valid pointer."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        return None
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def is_harmless(tokens: list[str]) -> bool:
    """Whether a pointer names one of the fields on the ``_HARMLESS`` list (not a parent)."""
    for pattern in _HARMLESS:
        if len(pattern) != len(tokens):
            continue
        if all(p == t or p == _ANY or (p == _INDEX and t.isdigit())
               for p, t in zip(pattern, tokens, strict=True)):
            return True
    return False


def _shown(pointer: Any) -> str:
    text = pointer if isinstance(pointer, str) else repr(pointer)
    return text if len(text) <= 80 else text[:77] + "..."


def patch_reads(media_type: str, document: Any) -> tuple[str, ...]:
    """The operations of a JSON patch that read a field on the server which is not on the
    harmless list, each as ``operation N ('copy' from=/data/password)``; () if none.

    ``document`` is the body as ``stages.body.inspect_body`` parsed it; other media types and
    bodies that are not a list of operations (the API server rejects those itself) have none.
    """
    if media_type != JSON_PATCH or not isinstance(document, list):
        return ()
    found: list[str] = []
    for index, op in enumerate(document):
        if not isinstance(op, dict):
            continue
        name = op.get("op")
        member = _READS.get(name.lower()) if isinstance(name, str) else None
        if member is None:
            continue
        pointer = op.get(member)
        tokens = parse_pointer(pointer) if isinstance(pointer, str) else None
        if tokens is not None and is_harmless(tokens):
            continue
        found.append(f"operation {index} ('{name}' {member}={_shown(pointer)})")
    return tuple(found)
