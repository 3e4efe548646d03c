"""What to mask: the policy's ``masking:`` block as a frozen, validated settings object.

Validation happens here, once, when the policy is loaded, so a typo in a detector name or a
regex that does not compile is reported with the key that holds it instead of surfacing as a
crash in the middle of a masked response.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Every built-in free-text detector, in the order they are documented.
DETECTOR_NAMES: tuple[str, ...] = (
    "private-key",
    "aws-key",
    "jwt",
    "github-token",
    "gitlab-token",
    "stripe-key",
    "slack-token",
    "vendor-token",
    "url-password",
    "assignment",
    "command-line",
    "sql-password",
)

_BLOCK_KEYS = ("secretEnvNames", "detectors", "custom", "showCertificates")
_CUSTOM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _compile(pattern: str, where: str) -> None:
    try:
        re.compile(pattern)
    except re.error as e:
        raise ValueError(f"{where}: not a valid regular expression: {e}") from e


@dataclass(frozen=True)
class MaskingSettings:
    """Which env names count as secret, which detectors run, and extra (name, regex) detectors.

    A custom regex with a group named ``value`` (or, failing that, a first group) masks only that
    group, so ``token=(?P<value>…)`` keeps its key; without groups the whole match is masked.

    ``show_certificates`` (``masking.showCertificates``, default on): Secret ``data`` values that
    are PEM ``CERTIFICATE`` blocks and nothing else (``tls.crt``, ``ca.crt``) are public and stay
    readable; anything holding a key, or anything else, stays masked.
    """

    secret_env_names: str = r"(?i)(pass|secret|token|key|credential)"
    detectors: tuple[str, ...] = DETECTOR_NAMES
    custom: tuple[tuple[str, str], ...] = ()
    show_certificates: bool = True

    def __post_init__(self) -> None:
        _compile(self.secret_env_names, "masking.secretEnvNames")
        for name in self.detectors:
            if name not in DETECTOR_NAMES:
                raise ValueError(
                    f"masking.detectors: unknown detector {name!r} "
                    f"(known: {', '.join(DETECTOR_NAMES)})"
                )
        seen: set[str] = set()
        for i, (name, pattern) in enumerate(self.custom):
            where = f"masking.custom[{i}]"
            if not _CUSTOM_NAME.match(name):
                raise ValueError(f"{where}.name: {name!r} is not a simple name")
            if name in seen:
                raise ValueError(f"{where}.name: {name!r} is used twice")
            seen.add(name)
            _compile(pattern, f"{where}.regex")
            if re.compile(pattern).match(""):
                raise ValueError(f"{where}.regex: matches the empty string")

    @classmethod
    def from_policy(cls, block: Mapping[str, Any] | None) -> MaskingSettings:
        """Build settings from a policy's ``masking:`` mapping (``None`` → defaults).

        Raises ``ValueError`` naming the offending key; unknown keys are errors, not ignored.
        """
        if block is None:
            return cls()
        if not isinstance(block, Mapping):
            raise ValueError("masking: must be a mapping")
        for key in block:
            if key not in _BLOCK_KEYS:
                raise ValueError(
                    f"masking.{key}: unknown key (known: {', '.join(_BLOCK_KEYS)})"
                )
        kwargs: dict[str, Any] = {}
        if "secretEnvNames" in block:
            value = block["secretEnvNames"]
            if not isinstance(value, str) or not value:
                raise ValueError("masking.secretEnvNames: must be a non-empty regex string")
            kwargs["secret_env_names"] = value
        if "detectors" in block:
            value = block["detectors"]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError("masking.detectors: must be a list of detector names")
            kwargs["detectors"] = tuple(value)
        if "custom" in block:
            kwargs["custom"] = _custom_from_policy(block["custom"])
        if "showCertificates" in block:
            value = block["showCertificates"]
            if not isinstance(value, bool):
                raise ValueError("masking.showCertificates: must be true or false")
            kwargs["show_certificates"] = value
        return cls(**kwargs)


def _custom_from_policy(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise ValueError("masking.custom: must be a list of {name, regex}")
    out: list[tuple[str, str]] = []
    for i, entry in enumerate(value):
        where = f"masking.custom[{i}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: must be a mapping with name and regex")
        for key in entry:
            if key not in ("name", "regex"):
                raise ValueError(f"{where}.{key}: unknown key (known: name, regex)")
        name, regex = entry.get("name"), entry.get("regex")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}.name: required string")
        if not isinstance(regex, str) or not regex:
            raise ValueError(f"{where}.regex: required string")
        out.append((name, regex))
    return tuple(out)
