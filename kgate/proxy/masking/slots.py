"""Where each masked value was read, so that writing it back to the same place can be undone.

``kubectl rollout undo``, ``kubectl create job --from=cronjob/X`` and ``kubectl debug
--copy-to`` read an object (masked) and write part of it back. Refusing every placeholder in a
write breaks them; restoring every placeholder would let an agent copy a secret anywhere it
likes. The middle ground (docs/threat-model.md): a masked string may be restored to its real
value when it is written back to the same *slot* in the same namespace it was read from. The
agent gains nothing it could not get by mounting the Secret in a pod of that namespace.

A slot is a normalised path: the pod spec is the same slot whether it sat in a Pod, a
ReplicaSet/Deployment/Job template, a CronJob's ``jobTemplate`` or a ControllerRevision
(``("pod", "containers", "web", "env", "DB_PASSWORD", "value")``); ``metadata`` of an object,
of a pod template and of a ``jobTemplate`` are one slot (``("meta", "annotations", key)``);
anything else is ``(kind, *path)``. List elements are named by their ``name`` when they have one
(containers, env, headers) and by their index otherwise.

The record lives in memory only, for one session, and is bounded (oldest forgotten first).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

MAX_RECORDS = 100_000

Slot = tuple[str, ...]


def slot_of(kind: str | None, path: Sequence[str]) -> Slot:
    """The normalised slot of the string at ``path`` (from the object's root) in a ``kind``."""
    n = len(path)
    for i in range(n - 1):
        a, b = path[i], path[i + 1]
        if a == "template" and b == "spec":
            return ("pod", *path[i + 2:])
        if a in ("template", "jobTemplate") and b == "metadata":
            return ("meta", *path[i + 2:])
    if n and path[0] == "metadata":
        return ("meta", *path[1:])
    if kind == "Pod" and n and path[0] == "spec":
        return ("pod", *path[1:])
    return (kind or "", *path)


class IssuedValues:
    """(namespace, slot, masked string) → the real string it replaced, for this session."""

    def __init__(self, limit: int = MAX_RECORDS) -> None:
        self._limit = limit
        self._records: dict[tuple[str, Slot, str], str] = {}
        self._lock = threading.Lock()   # walkers on several threads record (masker.py)

    def __len__(self) -> int:
        return len(self._records)

    def record(self, namespace: str, slot: Slot, masked: str, original: str) -> None:
        key = (namespace, slot, masked)
        if key in self._records:
            return
        with self._lock:
            if len(self._records) >= self._limit:
                for old in list(self._records)[: self._limit // 2]:
                    del self._records[old]
            self._records[key] = original

    def original(self, namespace: str, slot: Slot, masked: str) -> str | None:
        """The real string behind ``masked`` if it was issued at exactly this place."""
        return self._records.get((namespace, slot, masked))
