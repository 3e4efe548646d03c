"""Suite-wide fixtures come from the plugin modules under ``tests/fixtures``."""

pytest_plugins = [
    "tests.fixtures.kube",
    "tests.fixtures.sandbox",
    "tests.fixtures.proxy",
    "tests.fixtures.idp",
]
