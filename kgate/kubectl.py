"""Finding a real kubectl 1.32.

The ``kubectl`` on PATH on our machines is the Google Cloud CLI's version dispatcher; the real
binaries sit beside its resolved path as ``kubectl.1.NN``. ``$KGATE_KUBECTL`` overrides, and
``.tools/kubectl`` (installed by ``.ci/run`` from PyPI when the dispatcher lacks 1.32) is the
fallback.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kgate.errors import ConfigError

WANTED_MINOR = 32


def find_kubectl(repo_root: Path | None = None) -> str:
    """Return the path of a kubectl 1.32 binary, or raise ``ConfigError`` saying how to get one."""
    env = os.environ.get("KGATE_KUBECTL")
    if env:
        if os.access(env, os.X_OK):
            return env
        raise ConfigError(f"KGATE_KUBECTL={env} is not an executable file")
    found = shutil.which("kubectl")
    if found:
        beside = Path(os.path.realpath(found)).parent / f"kubectl.1.{WANTED_MINOR}"
        if os.access(beside, os.X_OK):
            return str(beside)
    roots = [repo_root] if repo_root else []
    roots.append(Path(__file__).resolve().parent.parent)
    for root in roots:
        local = root / ".tools" / "kubectl"
        if os.access(local, os.X_OK):
            return str(local)
    raise ConfigError(
        "no kubectl 1.32 found",
        hint="set KGATE_KUBECTL, or run .ci/run once to install one under .tools/",
    )
