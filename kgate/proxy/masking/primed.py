"""Which values priming learns from a pod and the Secrets it references (pure).

*Every* value of a referenced Secret is learned, whatever its shape — short, letters only, digits
only, very long, binary — because ``cat`` of the mounted file prints it with nothing around it:
the usual filters for "looks like a credential" would let exactly those values through. Only
values (or lines of values) shorter than ``known.PIN_MIN_LEN`` characters are not recognised in
text: masking every ``abc`` or ``42`` a pod prints would garble all output and protect little.
The values stay pinned for the life of the stream they were primed for (``KnownValues.pin``).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Any


def secret_values(secret: Any) -> list[bytes]:
    """Every value of a Secret object: ``data`` decoded from base64, ``stringData`` as UTF-8.

    A ``data`` value that is not valid base64 is kept as it is (kgate cannot know what the
    pod sees, so it recognises what it was given).
    """
    if not isinstance(secret, dict):
        return []
    values: list[bytes] = []
    data = secret.get("data")
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, str) and value:
                try:
                    values.append(binascii.a2b_base64(value, strict_mode=True))
                except (binascii.Error, ValueError):
                    values.append(value.encode())
    string_data = secret.get("stringData")
    if isinstance(string_data, dict):
        values += [v.encode() for v in string_data.values() if isinstance(v, str) and v]
    return values


def env_secret_values(pod: Any, is_secret_name: Callable[[str], bool]) -> list[bytes]:
    """Literal env values of the pod's containers whose names look secret (``DB_PASSWORD``)."""
    spec = pod.get("spec") if isinstance(pod, dict) else None
    if not isinstance(spec, dict):
        return []
    values: list[bytes] = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _dicts(spec.get(key)):
            for env in _dicts(container.get("env")):
                name, value = env.get("name"), env.get("value")
                if (isinstance(name, str) and isinstance(value, str) and value
                        and is_secret_name(name)):
                    values.append(value.encode())
    return values


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
