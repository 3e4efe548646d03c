"""Benchmarks: run with ``python -m bench.<name>``; figures go into issue notes, not tests."""
