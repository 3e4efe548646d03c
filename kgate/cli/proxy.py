"""`kgate proxy` (being built)."""
