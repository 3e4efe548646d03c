"""Where kgate keeps its state.

``$KGATE_HOME`` wins; otherwise the XDG state directory (``~/.local/state/kgate``). The directory
is created 0700 because it holds the loopback CA key and session logs.
"""

from __future__ import annotations

import os
from pathlib import Path


def kgate_home() -> Path:
    """Return (and create, 0700) the kgate state directory."""
    env = os.environ.get("KGATE_HOME")
    if env:
        home = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        home = Path(base) / "kgate"
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


def private_dir(path: Path) -> Path:
    """Create ``path`` as a 0700 directory (tightening it if it already exists)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, created 0600 from the start (never readable by others)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)
