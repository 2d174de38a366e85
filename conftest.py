"""Root conftest: the shared fixtures for tests/ and plugins/*/tests/."""

pytest_plugins = ["bdnex_testing.pytest_plugin"]
