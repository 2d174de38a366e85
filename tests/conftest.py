"""The core's test suite; shared fixtures come from bdnex_testing.pytest_plugin (root conftest)."""

import pytest

from bdnex_testing.loopfs import LoopFilesystemUnavailable, loop_filesystem
from bdnex_testing.pytest_plugin import REPO_ROOT, SHARED_DIR

__all__ = ["REPO_ROOT", "SHARED_DIR"]


@pytest.fixture(scope="module", params=["xfs", "btrfs"])
def reflink_folder(request, tmp_path_factory):
    """A folder on a fresh loop-mounted XFS or btrfs (filesystems that share blocks between files)."""
    try:
        with loop_filesystem(request.param, tmp_path_factory.mktemp(request.param)) as mount_point:
            yield mount_point
    except LoopFilesystemUnavailable as exc:
        pytest.skip(f"no {request.param} filesystem here: {exc}")
