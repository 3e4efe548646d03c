"""``python -m kgate`` — the same entry point as the ``kgate`` executable."""

from kgate.entry import main

main()
