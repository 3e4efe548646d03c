"""Attacks an agent could try, run with real kubectl through the proxy."""
