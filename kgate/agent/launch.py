"""What ``kgate exec`` hands its proxy child, and what the child says back.

The parent binds the listening socket, mints the session (id and token) and writes the agent's
kubeconfig itself, so the agent can start before the child has imported the proxy; the child
gets the socket as an inherited descriptor and everything else as one JSON document on a pipe. The
session token never appears in argv or the environment (``/proc/<pid>/cmdline`` and ``environ``
are readable by the agent, which runs as the same user).

Later lines on the launch pipe carry what the parent learns afterwards (``{"agent_pid": N}``).
The child reports on a second pipe, one JSON object per line: ``{"event": "ready"}`` once it
accepts connections, ``{"event": "error", "message": …, "exit": N}`` if it cannot start, and
``{"event": "grant-ended"}`` when its grant expires or is revoked. What the session did is read
from the session log's index once it has stopped.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, repr=False)
class LaunchSpec:
    """Everything the proxy child needs to serve one session."""

    session_id: str
    token: str
    home: str
    ca_pem: str
    #: The user's kubeconfig and context to forward with (None: the usual lookup).
    upstream_kubeconfig: str | None = None
    context: str | None = None
    #: The private directory holding the agent's kubeconfig: removed by the child if the
    #: parent is killed outright and cannot remove it itself.
    agent_dir: str | None = None
    grant_id: str | None = None
    policy: str | None = None
    agent_command: list[str] | None = None
    upstream_auth: str | None = None
    #: False when the agent runs with ``--no-confine`` (for the session log).
    confined: bool = False

    def __repr__(self) -> str:  # never print the token
        return f"LaunchSpec(session_id={self.session_id!r}, grant_id={self.grant_id!r})"

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> LaunchSpec:
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("launch spec is not a JSON object")
        fields: dict[str, Any] = {k: raw.get(k) for k in cls.__dataclass_fields__}
        for required in ("session_id", "token", "home", "ca_pem"):
            if not isinstance(fields[required], str):
                raise ValueError(f"launch spec: {required} is missing")
        fields["confined"] = fields["confined"] is True
        return cls(**fields)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to a pipe descriptor (a pipe may take it in pieces)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_all(fd: int) -> bytes:
    """Read a pipe descriptor to its end."""
    parts: list[bytes] = []
    while chunk := os.read(fd, 65536):
        parts.append(chunk)
    return b"".join(parts)


def status_line(event: str, **fields: Any) -> bytes:
    """One status message from the child, newline-terminated JSON."""
    return json.dumps({"event": event, **fields}).encode() + b"\n"
