"""Fixtures shared by the grant tests."""

from tests.fixtures.grants import cluster  # noqa: F401  (a fixture)
