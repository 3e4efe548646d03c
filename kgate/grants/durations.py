"""Go-style durations (``90s``, ``15m``, ``1h30m``, ``1.5h``) as the policy file and ``--ttl`` use.

One parser for every duration a human types, so ``kgate request --ttl`` and the policy's
``maxTTL``/``pendingTimeout`` mean the same thing. Go's grammar without its oddities: a sign, a
bare ``0`` and a missing unit are errors here, because a TTL of zero or below is a typo, not a
request for no access.
"""

from __future__ import annotations

import re

from kgate.errors import ExitCode, KgateError

MIN_DURATION = 10.0  # seconds; anything shorter cannot be used before it ends
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ms|h|m|s)")  # ASCII digits only
_HINT = "write a Go-style duration such as 90s, 15m or 1h30m"


class DurationError(KgateError):
    """A duration the user typed is not one kgate accepts."""

    exit_code = ExitCode.USAGE


def parse_duration(text: str, *, what: str = "duration", minimum: float = MIN_DURATION) -> float:
    """Seconds in ``text`` (``90s``, ``1h30m``); ``DurationError`` for anything else.

    At least ``minimum`` seconds; no sign, no bare numbers, no unknown units, no overflow.
    """
    raw = text.strip()
    if not raw:
        raise DurationError(f"{what} is empty", hint=_HINT)
    if raw[0] in "+-":
        raise DurationError(f"{what} {text!r} has a sign; durations are positive", hint=_HINT)
    total, pos = 0.0, 0
    for match in _PART.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(raw) or pos == 0:
        raise DurationError(f"{what} {text!r} is not a duration", hint=_HINT)
    if total > 100 * 365 * 86400:  # far beyond any maxTTL; keeps arithmetic sane
        raise DurationError(f"{what} {text!r} is implausibly long", hint=_HINT)
    if total < minimum:
        raise DurationError(f"{what} {text!r} is shorter than the minimum "
                            f"{format_duration(minimum)}", hint=_HINT)
    return total


def format_duration(seconds: float) -> str:
    """``5400`` → ``1h30m``; sub-second parts are dropped, ``0s`` for nothing left."""
    rest = max(0, int(seconds))
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    out += f"{secs}s" if secs or not out else ""
    return out
