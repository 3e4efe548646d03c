"""`kgate sandbox` (being built)."""
