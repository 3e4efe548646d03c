"""``Edit``: one span of text to replace, the unit every detector produces."""

from __future__ import annotations

from typing import NamedTuple


class Edit(NamedTuple):
    """Replace ``text[start:end]`` with ``repl``; ``ph`` alone stands for a clipped remainder."""

    start: int
    end: int
    repl: str
    ph: str
