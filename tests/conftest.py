"""The core's test suite; shared fixtures come from bdnex_core.testing.pytest_plugin (root conftest)."""

from bdnex_core.testing.pytest_plugin import REPO_ROOT, SHARED_DIR

__all__ = ["REPO_ROOT", "SHARED_DIR"]
