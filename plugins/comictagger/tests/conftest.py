"""Fixtures for the ComicTagger tests: the real ComicTagger CLI, run in subprocesses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from comictagger_harness import REQUIRED_BY, Runner, comictagger_executable

from bdnex_core.demo.fakesite import FakeBedetheque
from bdnex_testing.pytest_plugin import skip_or_fail
from bdnex_testing.shared import fake_bedetheque


@pytest.fixture(scope="session")
def comictagger() -> Path:
    executable = comictagger_executable()
    if executable is None:
        skip_or_fail("ComicTagger is not installed (set BDNEX_COMICTAGGER or create .venv-ct)", required_by=REQUIRED_BY)
    return executable


@pytest.fixture
def site(bedetheque_fixtures: Path) -> Iterator[FakeBedetheque]:
    """The fake site with the real recorded sitemaps, pages and covers (Nains T1 is 245127)."""
    with fake_bedetheque() as running:
        yield running


@pytest.fixture
def runner(comictagger: Path, tmp_path: Path, site: FakeBedetheque) -> Runner:
    # HOME and XDG_* are already private (bdnex-core's autouse fixture): no real config is read
    return Runner(comictagger, tmp_path, site)
