"""Allow ``python -m kgate`` (used by subprocess launches that must not depend on PATH)."""

from kgate.cli import main

main()
