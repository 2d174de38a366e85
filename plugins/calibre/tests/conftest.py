"""One calibre test at a time on this machine.

calibre allows one program that can change a library per user (calibre-server, local calibredb): two
xdist workers, or two test runs on one machine, would refuse each other ("Another calibre program is
running"). Each test holds an exclusive lock on a machine-wide file while it runs.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

LOCK_FILE = Path(tempfile.gettempdir()) / "bdnex-calibre-tests.lock"


@pytest.fixture(autouse=True)
def _one_calibre_test_at_a_time() -> Iterator[None]:
    with open(LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
